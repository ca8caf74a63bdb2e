import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import {
  remoteDestination,
  resolveDestination,
  runUploadJobs,
  treeJobs,
  type ClientSession,
  type UploadJob,
} from '../index.js';
import { joinRemotePath, parseRemotePath } from '../protocol/index.js';
import { basename } from 'node:path';
import { lstat } from 'node:fs/promises';
import { homeOf } from './cli-context.js';
import { parseTarget } from './parse-target.js';
import { parseChunkSize, parseStreams } from './parse-option.js';
import { addTransferFlags, type TransferFlags } from './transfer-flags.js';
import { addClientFlags, connectOptionsOf, withInterrupt, type ClientFlags } from './client-options.js';
import { ProgressReporter, addOutputFlags, type OutputFlags } from './progress-reporter.js';

interface SendFlags extends ClientFlags, OutputFlags, TransferFlags {
  recursive?: boolean;
}

/**
 * `ferry send [-r] PATH... HOST[:PORT][/REMOTE_PATH]`, placed as scp places files: into REMOTE_PATH when it
 * is a directory, else (one source) as REMOTE_PATH itself.
 */
export function registerSendCommand(program: Command): void {
  const command = program
    .command('send')
    .description(
      'upload files (or trees with -r); exits 0 only once the server verified and stored all of them',
    )
    .argument(
      '<paths...>',
      'files (or directories with -r) to send, then HOST[:PORT][/REMOTE_PATH] last: an existing directory receives them, otherwise one source is stored under that name; a trailing / means a directory',
    )
    .option('-r, --recursive', 'send directories as trees (links that leave the tree are skipped)');
  addTransferFlags(command, 'remote');
  addOutputFlags(command);
  addClientFlags(command).action(async (args: string[], flags: SendFlags, cmd: Command) => {
    if (args.length < 2)
      throw new FerryError('USAGE_INVALID', 'usage: ferry send [-r] PATH... HOST[:PORT][/REMOTE_PATH]');
    const target = parseTarget(args[args.length - 1]!);
    // Refuse a bad path here, before connecting, rather than let the server refuse it.
    if (target.remotePath !== '') parseRemotePath(target.remotePath);
    const paths = args.slice(0, -1);
    const kinds = await sourceKinds(paths, flags.recursive ?? false);
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
          const plan = async (session: ClientSession): Promise<UploadJob[]> => {
            const destination = await resolveDestination(
              {
                path: target.remotePath,
                directory: target.directory,
                sources: paths.length,
                mkdir: flags.mkdir ?? false,
              },
              remoteDestination(session),
            );
            const dirs = paths.filter((_, i) => kinds[i] === 'dir');
            const files: UploadJob[] = paths
              .filter((_, i) => kinds[i] === 'file')
              .map((p) => ({
                kind: 'file',
                localPath: p,
                remotePath:
                  destination.kind === 'as' ? destination.path : joinRemotePath(destination.dir, basename(p)),
              }));
            return [...files, ...(await treeJobs(dirs, destination, reporter.onSkip))];
          };
          await runUploadJobs(plan, { ...common, files: paths });
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

/**
 * Checks every source before connecting: it must exist on this machine, and a directory needs `-r` (as with
 * scp), so neither mistake costs a connection or surfaces as a bare errno.
 */
async function sourceKinds(paths: readonly string[], recursive: boolean): Promise<Array<'file' | 'dir'>> {
  return Promise.all(
    paths.map(async (path) => {
      const stats = await lstat(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT')
          throw new FerryError('PATH_NOT_FOUND', 'nothing to send there on this machine', { subject: path });
        throw err;
      });
      if (stats.isDirectory()) {
        if (!recursive)
          throw new FerryError('USAGE_INVALID', 'is a directory: add -r to send it as a tree', {
            subject: path,
          });
        return 'dir';
      }
      return 'file';
    }),
  );
}
