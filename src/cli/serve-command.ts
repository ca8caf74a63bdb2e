import type { Command } from 'commander';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { formatFerryId } from '../crypto/index.js';
import { AllowListWatcher, loadIdentity, loadOrCreateIdentity } from '../home/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../protocol/index.js';
import { FerryServer, type Authorize } from '../server/index.js';
import { homeOf } from './cli-context.js';
import { parseListen } from './parse-target.js';
import { parseByteSize, parseMs } from './parse-option.js';

interface ServeFlags {
  root: string;
  listen: string;
  init?: boolean;
  logLevel: string;
  maxFileSize?: string;
  handshakeTimeout: string;
  idleTimeout: string;
  durableBatch: string;
  partialMaxAge: string;
}

/** `ferry serve`: receive files into a root directory from allow-listed clients. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run a server that receives files from allowed clients')
    .option('--root <dir>', 'directory to receive files into', './ferry-data')
    .option('--listen <host:port>', 'address to listen on ([::1]:7443 for IPv6)', '127.0.0.1:7443')
    .option('--init', 'create an identity first if this home has none')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or silent', 'info')
    .option('--max-file-size <bytes>', 'largest accepted file (e.g. 10G); default no limit')
    .option('--handshake-timeout <ms>', 'close connections that do not finish the handshake in time', '10000')
    .option('--idle-timeout <ms>', 'close sessions idle for this long', '60000')
    .option(
      '--durable-batch <bytes>',
      'verified bytes made durable per fsync batch (smaller: finer resume, more fsyncs)',
      '16M',
    )
    .option(
      '--partial-max-age <ms>',
      'remove partial transfers untouched for this long',
      String(24 * 3600 * 1000),
    )
    .action(async (flags: ServeFlags, command: Command) => {
      const home = homeOf(command);
      const { keyPair, created } = flags.init
        ? await loadOrCreateIdentity(home)
        : { keyPair: await loadIdentity(home), created: false };
      const logger = pino(
        { level: flags.logLevel, base: { role: 'server' } },
        pino.destination({ dest: 2, sync: true }),
      );
      const watcher = new AllowListWatcher(home);
      const authorize: Authorize = async (publicKey) => {
        const client = (await watcher.current()).find(publicKey);
        if (!client) return undefined;
        const permissions =
          (client.permissions.includes('upload') ? PERMISSION_UPLOAD : 0) |
          (client.permissions.includes('download') ? PERMISSION_DOWNLOAD : 0);
        return { name: client.name, permissions, root: client.root };
      };
      const { host, port } = parseListen(flags.listen);
      const server = await FerryServer.start({
        root: resolve(flags.root),
        host,
        port,
        identity: keyPair,
        authorize,
        logger,
        maxFileBytes: flags.maxFileSize ? parseByteSize(flags.maxFileSize) : 0,
        handshakeTimeoutMs: parseMs(flags.handshakeTimeout, '--handshake-timeout'),
        idleTimeoutMs: parseMs(flags.idleTimeout, '--idle-timeout'),
        durableBatchBytes: parseByteSize(flags.durableBatch),
        partialMaxAgeMs: parseMs(flags.partialMaxAge, '--partial-max-age'),
        // `ferry invite` on this home works without a restart: the invite store is read at pairing time.
        pairing: { homeDir: home },
      });
      const id = formatFerryId(keyPair.publicKey);
      process.stdout.write(
        [
          'ferry server ready',
          `  id:      ${id}${created ? '  (new identity)' : ''}`,
          `  listen:  ${server.addressText}`,
          `  root:    ${server.root}`,
          `  home:    ${home}`,
          '',
          'Next, on the client machine:',
          '  ferry keygen                       # once; prints the client ID',
          `Then here:  ferry --home ${home} allow CLIENT_ID --name laptop`,
          `And send:   ferry send FILE ${server.addressText} --expect ${id}`,
          '',
        ].join('\n'),
      );
      await new Promise<void>((resolveStop) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(resolveStop);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
