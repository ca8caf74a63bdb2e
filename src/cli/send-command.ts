import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import { DEFAULT_CHUNK_BYTES, DEFAULT_STREAMS, runUploadJobs, sendTree } from '../index.js';
import { joinRemotePath } from '../protocol/index.js';
import { basename } from 'node:path';
import { homeOf } from './cli-context.js';
import { parseTarget } from './parse-target.js';
import { formatByteSize, parseChunkSize, parseStreams } from './parse-option.js';
import { addClientFlags, connectOptionsOf, withInterrupt, type ClientFlags } from './client-options.js';
import { ProgressReporter, addOutputFlags, type OutputFlags } from './progress-reporter.js';

interface SendFlags extends ClientFlags, OutputFlags {
  recursive?: boolean;
  overwrite?: boolean;
  chunkSize: string;
  streams: string;
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
      'replace existing remote files atomically, without comparing them (default: identical files are skipped, others refused)',
    )
    .option(
      '--chunk-size <bytes>',
      'chunk size, a power of two from 1k to 64M',
      formatByteSize(DEFAULT_CHUNK_BYTES),
    )
    .option(
      '--streams <n>',
      'TCP connections carrying a large file in parallel (helps on long links)',
      String(DEFAULT_STREAMS),
    );
  addOutputFlags(command);
  addClientFlags(command).action(async (args: string[], flags: SendFlags, cmd: Command) => {
    if (args.length < 2)
      throw new FerryError('USAGE_INVALID', 'usage: ferry send [-r] PATH... HOST[:PORT][/REMOTE_DIR]');
    const target = parseTarget(args[args.length - 1]!);
    const paths = args.slice(0, -1);
    const reporter = new ProgressReporter(flags, { verb: 'sent' });
    await withInterrupt(async (signal) => {
      const connect = await connectOptionsOf(flags, homeOf(cmd), target, signal);
      const common = {
        ...connect,
        remoteDir: target.remotePath,
        chunkBytes: parseChunkSize(flags.chunkSize),
        streams: parseStreams(flags.streams),
        overwrite: flags.overwrite ?? false,
        onEvent: reporter.onEvent,
      };
      try {
        await reporter.run(async () => {
          if (flags.recursive) {
            await sendTree({ ...common, dirs: paths, onSkip: reporter.onSkip });
          } else {
            const jobs = paths.map((p) => ({
              kind: 'file' as const,
              localPath: p,
              remotePath: joinRemotePath(target.remotePath, basename(p)),
            }));
            await runUploadJobs(jobs, { ...common, files: paths });
          }
        });
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
