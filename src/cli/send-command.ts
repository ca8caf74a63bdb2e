import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import { loadIdentity, checkServerKey } from '../home/index.js';
import { sendFiles } from '../client/index.js';
import { homeOf } from './cli-context.js';
import { parseTarget } from './parse-target.js';
import { parseChunkSize, parseCount, parseMs } from './parse-option.js';
import { join } from 'node:path';
import { confirmOnTty } from './confirm-on-tty.js';

interface SendFlags {
  expect?: string;
  acceptNew?: boolean;
  overwrite?: boolean;
  chunkSize?: string;
  quiet?: boolean;
  connectTimeout: string;
  handshakeTimeout: string;
  stallTimeout: string;
  retries: string;
  retryDelay: string;
}

/** `ferry send FILE... HOST[:PORT][/REMOTE_DIR]`. */
export function registerSendCommand(program: Command): void {
  program
    .command('send')
    .description('upload files; exits 0 only once the server verified and stored every file')
    .argument('<files...>', 'files to send, then HOST[:PORT][/REMOTE_DIR] last')
    .option('--expect <id>', 'the server must have this ferry ID (pinned on first use)')
    .option('--accept-new', 'trust an unknown server on first use and pin its key')
    .option('--overwrite', 'replace existing remote files (atomically)')
    .option('--chunk-size <bytes>', 'chunk size, a power of two from 1k to 64M', '4M')
    .option('-q, --quiet', 'print nothing on success')
    .option('--connect-timeout <ms>', 'TCP connect deadline', '10000')
    .option('--handshake-timeout <ms>', 'handshake deadline', '10000')
    .option('--stall-timeout <ms>', 'drop and resume a session that moves no bytes for this long', '30000')
    .option('--retries <n>', 'retries after network failures without progress (0: fail fast)', '5')
    .option('--retry-delay <ms>', 'first backoff delay; doubles per retry, with jitter', '500')
    .action(async (args: string[], flags: SendFlags, command: Command) => {
      if (args.length < 2) throw new FerryError('USAGE_INVALID', 'usage: ferry send FILE... HOST[:PORT][/REMOTE_DIR]');
      const target = parseTarget(args[args.length - 1]!);
      const files = args.slice(0, -1);
      const home = homeOf(command);
      const identity = await loadIdentity(home);
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const results = await sendFiles({
          server: { host: target.host, port: target.port },
          files,
          remoteDir: target.remotePath,
          identity,
          verifyServer: async (publicKey) => {
            await checkServerKey(
              home,
              { address: target.address, publicKey },
              { expectId: flags.expect, acceptNew: flags.acceptNew ?? false, confirm: confirmOnTty() },
            );
          },
          chunkBytes: parseChunkSize(flags.chunkSize ?? '4M'),
          overwrite: flags.overwrite ?? false,
          connectTimeoutMs: parseMs(flags.connectTimeout, '--connect-timeout'),
          handshakeTimeoutMs: parseMs(flags.handshakeTimeout, '--handshake-timeout'),
          stallTimeoutMs: parseMs(flags.stallTimeout, '--stall-timeout'),
          retry: { retries: parseCount(flags.retries, '--retries'), baseDelayMs: parseMs(flags.retryDelay, '--retry-delay') },
          cacheDir: join(home, 'cache'),
          signal: controller.signal,
          onEvent: (event) => {
            if (event.type === 'retrying' && !flags.quiet) {
              process.stderr.write(`ferry: ${event.code}: retrying in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt})\n`);
            } else if (event.type === 'transfer-started' && event.restarted && !flags.quiet) {
              process.stderr.write(`ferry: ${event.file} changed since the interrupted attempt: sending it again from the start\n`);
            }
          },
        });
        if (!flags.quiet) {
          for (const [i, r] of results.entries()) {
            const resumed = r.resumedBytes > 0 ? `, resumed from ${r.resumedBytes}` : '';
            process.stderr.write(`sent ${files[i]} (${r.size} bytes${resumed}) digest ${r.digest.toString('hex').slice(0, 16)}\n`);
          }
        }
      } catch (err) {
        if (controller.signal.aborted) {
          throw new FerryError('ABORTED', 'interrupted; verified chunks are kept on the server: run the same command again to resume');
        }
        throw err;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
