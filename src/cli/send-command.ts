import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import { runUploadJobs, sendTree, type SendEvent } from '../client/index.js';
import { joinRemotePath } from '../protocol/index.js';
import { basename } from 'node:path';
import { homeOf } from './cli-context.js';
import { parseTarget } from './parse-target.js';
import { parseChunkSize } from './parse-option.js';
import { addClientFlags, connectOptionsOf, withInterrupt, type ClientFlags } from './client-options.js';

interface SendFlags extends ClientFlags {
  recursive?: boolean;
  overwrite?: boolean;
  chunkSize: string;
  quiet?: boolean;
}

/** `ferry send [-r] PATH... HOST[:PORT][/REMOTE_DIR]`. */
export function registerSendCommand(program: Command): void {
  const command = program
    .command('send')
    .description(
      'upload files (or trees with -r); exits 0 only once the server verified and stored all of them',
    )
    .argument('<paths...>', 'files (or directories with -r) to send, then HOST[:PORT][/REMOTE_DIR] last')
    .option('-r, --recursive', 'send directories as trees (links that leave the tree are skipped)')
    .option(
      '--overwrite',
      'replace existing remote files (atomically); identical files are skipped either way',
    )
    .option('--chunk-size <bytes>', 'chunk size, a power of two from 1k to 64M', '4M')
    .option('-q, --quiet', 'print nothing on success');
  addClientFlags(command).action(async (args: string[], flags: SendFlags, cmd: Command) => {
    if (args.length < 2)
      throw new FerryError('USAGE_INVALID', 'usage: ferry send [-r] PATH... HOST[:PORT][/REMOTE_DIR]');
    const target = parseTarget(args[args.length - 1]!);
    const paths = args.slice(0, -1);
    const say = (line: string): void => {
      if (!flags.quiet) process.stderr.write(`${line}\n`);
    };
    const onEvent = (event: SendEvent): void => {
      if (event.type === 'retrying')
        say(
          `ferry: ${event.code}: retrying in ${(event.delayMs / 1000).toFixed(1)} s (attempt ${event.attempt})`,
        );
      else if (event.type === 'transfer-started' && event.restarted)
        say(`ferry: ${event.file} changed since the interrupted attempt: sending it again from the start`);
      else if (event.type === 'transfer-finished') {
        const r = event.result;
        const how = r.identical
          ? 'identical, skipped'
          : r.resumedBytes > 0
            ? `resumed from ${r.resumedBytes}`
            : 'sent';
        say(
          `${event.file} -> ${event.remotePath} (${r.size} bytes, ${how}) digest ${r.digest.toString('hex').slice(0, 16)}`,
        );
      }
    };
    await withInterrupt(async (signal) => {
      const connect = await connectOptionsOf(flags, homeOf(cmd), target, signal);
      const common = {
        ...connect,
        remoteDir: target.remotePath,
        chunkBytes: parseChunkSize(flags.chunkSize),
        overwrite: flags.overwrite ?? false,
        onEvent,
      };
      try {
        if (flags.recursive) {
          await sendTree({
            ...common,
            dirs: paths,
            onSkip: (path, reason) => say(`ferry: skipped ${path}: ${reason}`),
          });
        } else {
          const jobs = paths.map((p) => ({
            kind: 'file' as const,
            localPath: p,
            remotePath: joinRemotePath(target.remotePath, basename(p)),
          }));
          await runUploadJobs(jobs, { ...common, files: paths });
        }
      } catch (err) {
        if (signal.aborted)
          throw new FerryError(
            'ABORTED',
            'interrupted; verified chunks are kept on the server: run the same command again to resume',
          );
        throw err;
      }
    });
  });
}
