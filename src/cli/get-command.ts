import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { FerryError } from '../errors/index.js';
import { getPaths, refuseSameNameGets } from '../client-api.js';
import { homeOf } from './cli-context.js';
import { refuseStandardStream } from './standard-stream-argument.js';
import { withDiskFullHint } from './disk-full-hint.js';
import { withRemoteMissingHint } from './remote-missing-hint.js';
import { shellWord } from './shell-word.js';
import { checkRemotePath, parseTarget, type Target } from './parse-target.js';
import { DEFAULT_THREADS } from '../transfer/index.js';
import { parseChunkSize, parseStreams, parseThreads } from './parse-option.js';
import { addTransferFlags, type TransferFlags } from './transfer-flags.js';
import { addClientFlags, connectOptionsOf, withInterrupt, type ClientFlags } from './client-options.js';
import { ProgressReporter, addOutputFlags, type OutputFlags } from './progress-reporter.js';
import { addExcludeFlags, excludePatternsOf, type ExcludeFlags } from './exclude-flags.js';

interface GetFlags extends ClientFlags, OutputFlags, TransferFlags, ExcludeFlags {
  recursive?: boolean;
  threads: string;
}

/**
 * `ferry get [-r] HOST[:PORT]/REMOTE_PATH... [LOCAL]`, placed as scp places files: into LOCAL when it is a
 * directory, else (one source) as LOCAL itself.
 */
export function registerGetCommand(program: Command): void {
  const command = program
    .command('get')
    .usage('[options] HOST[:PORT]/REMOTE_PATH... [LOCAL]')
    .description(
      'download files (or trees with -r), verified and resumable; rerun the same command to resume',
    )
    .argument(
      '<sources...>',
      'HOST[:PORT]/REMOTE_PATH (several on the same server allowed), then optionally LOCAL: an existing directory receives them, otherwise one source is stored under that name; a trailing / means a directory',
    )
    .option('-r, --recursive', 'download directories as trees')
    .option(
      '--threads <n>',
      'threads decrypting and hashing file data (1: the event loop alone; more: a pool of worker threads; default by cores, README "Speed: threads")',
      String(DEFAULT_THREADS),
    );
  addTransferFlags(command, 'local');
  addExcludeFlags(command);
  addOutputFlags(command);
  addClientFlags(command).action(async (args: string[], flags: GetFlags, cmd: Command) => {
    const { sources, local } = splitSources(args, flags.recursive ?? false);
    refuseStandardStream(local, 'destination');
    // The library's own check, before the identity is loaded or anything connects.
    if (sources.length > 1)
      refuseSameNameGets(
        sources[0]!,
        sources.map((s) => s.remotePath),
      );
    const exclude = await excludePatternsOf(flags, flags.recursive ?? false);
    const reporter = new ProgressReporter(flags, {
      verb: 'received',
      command: cmd,
      hints: async (err) => withRemoteMissingHint(await withDiskFullHint(err)),
    });
    await withInterrupt(async (signal) => {
      const connect = await connectOptionsOf(flags, homeOf(cmd), sources[0]!, signal);
      try {
        await reporter.run(() =>
          getPaths({
            ...connect,
            remotePaths: sources.map((s) => s.remotePath),
            localPath: local,
            localIsDirectory: local.endsWith('/'),
            mkdir: flags.mkdir ?? false,
            recursive: flags.recursive ?? false,
            exclude,
            chunkBytes: parseChunkSize(flags.chunkSize),
            streams: parseStreams(flags.streams),
            threads: parseThreads(flags.threads),
            overwrite: flags.overwrite ?? false,
            delta: flags.delta,
            onEvent: reporter.onEvent,
          }),
        );
      } catch (err) {
        if (signal.aborted) throw reporter.interrupted();
        throw err;
      }
    });
  });
}

/**
 * Remote sources all name the first one's server; a last argument that does not start with that
 * `HOST[:PORT]/` is the local directory (default: the current one).
 */
function splitSources(args: string[], recursive: boolean): { sources: Target[]; local: string } {
  if (args.length === 0)
    throw new FerryError(
      'USAGE_INVALID',
      'ferry get takes the server and what to get there, then where to put it: ferry get [-r] HOST[:PORT]/REMOTE_PATH... [LOCAL]',
    );
  const first = parseTarget(args[0]!);
  const prefix = args[0]!.slice(0, args[0]!.indexOf('/') < 0 ? args[0]!.length : args[0]!.indexOf('/') + 1);
  const last = args[args.length - 1]!;
  const hasLocal = args.length > 1 && !last.startsWith(prefix);
  const remote = hasLocal ? args.slice(0, -1) : args;
  const sources = remote.map((text) => {
    const target = parseTarget(text);
    if (target.address !== first.address)
      throw new FerryError('USAGE_INVALID', 'all sources must be on the same server');
    // Refused here, naming the argument, rather than after connecting.
    checkRemotePath(target);
    return target;
  });
  // `ferry get notes.txt`: a bare word is a host, and its root a directory (refused without -r below), but a
  // name of this machine's was most likely meant as the file (it was told "notes.txt:7443: is your root on
  // the server"). Only without -r, so a command that works is never refused.
  const local = recursive ? undefined : remote.find((text) => !/[/:[]/.test(text) && existsSync(text));
  if (local !== undefined)
    throw new FerryError(
      'USAGE_INVALID',
      'is on this machine: get downloads HOST[:PORT]/PATH from a server',
      {
        subject: local,
        hint: `\`ferry send ${shellWord(local)} HOST[:PORT]\` uploads it`,
      },
    );
  // The root alone is a directory: without -r the server would refuse an empty path, naming nothing.
  if (!recursive && sources.some((source) => source.remotePath === ''))
    throw new FerryError('USAGE_INVALID', 'is your root on the server, a directory', {
      subject: first.address,
      hint: `add -r to get it as a tree, or name a file in it (\`ferry ls ${first.address}\` lists them)`,
    });
  return { sources, local: hasLocal ? last : '.' };
}
