import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import { DEFAULT_THREADS, refuseSameNameSends, sendPaths } from '../client-api.js';
import { homeOf } from './cli-context.js';
import { refuseStandardStream } from './standard-stream-argument.js';
import { resultDespiteUnsentNames } from './result-despite-unsent-names.js';
import { withLocalNameHint } from './local-name-hint.js';
import { checkRemotePath, parseTarget } from './parse-target.js';
import { parseChunkSize, parseStreams, parseThreads } from './parse-option.js';
import { addTransferFlags, type TransferFlags } from './transfer-flags.js';
import { addClientFlags, connectOptionsOf, withInterrupt, type ClientFlags } from './client-options.js';
import { ProgressReporter, addOutputFlags, type OutputFlags } from './progress-reporter.js';
import { addExcludeFlags, excludePatternsOf, type ExcludeFlags } from './exclude-flags.js';

interface SendFlags extends ClientFlags, OutputFlags, TransferFlags, ExcludeFlags {
  threads: string;
  recursive?: boolean;
}

/**
 * `ferry send [-r] PATH... HOST[:PORT][/REMOTE_PATH]`, placed as scp places files: into REMOTE_PATH when it
 * is a directory, else (one source) as REMOTE_PATH itself.
 */
export function registerSendCommand(program: Command): void {
  const command = program
    .command('send')
    // The words of the README and of the usage errors, not commander's `<paths...>`.
    .usage('[options] PATH... HOST[:PORT][/REMOTE_PATH]')
    .description(
      'upload files (or trees with -r); exits 0 only once the server verified and stored all of them',
    )
    .argument(
      '<paths...>',
      'files (or directories with -r) to send, then HOST[:PORT][/REMOTE_PATH] last: an existing directory receives them, otherwise one source is stored under that name; a trailing / means a directory',
    )
    .option('-r, --recursive', 'send directories as trees (links that leave the tree are skipped)')
    .option(
      '--threads <n>',
      'threads hashing and encrypting file data (1: the event loop alone; more: a pool of worker threads; default by cores, README "Speed: threads")',
      String(DEFAULT_THREADS),
    );
  addTransferFlags(command, 'remote');
  addExcludeFlags(command);
  addOutputFlags(command);
  addClientFlags(command).action(async (args: string[], flags: SendFlags, cmd: Command) => {
    if (args.length < 2)
      // Not "usage: ...": the line already says "invalid usage", and it read "invalid usage: usage: ferry send".
      throw new FerryError(
        'USAGE_INVALID',
        'ferry send takes the files to send, then the server last: ferry send [-r] PATH... HOST[:PORT][/REMOTE_PATH]',
      );
    const target = parseTarget(args[args.length - 1]!);
    // Refuse a bad path here, before connecting, rather than let the server refuse it.
    checkRemotePath(target);
    const paths = args.slice(0, -1);
    for (const path of paths) refuseStandardStream(path, 'source');
    // The library's own check, before the identity is loaded or anything connects.
    if (paths.length > 1) refuseSameNameSends(paths);
    const exclude = await excludePatternsOf(flags, flags.recursive ?? false);
    const reporter = new ProgressReporter(flags, {
      verb: 'sent',
      command: cmd,
      hints: (err) => withLocalNameHint(err, args[args.length - 1]!),
    });
    await withInterrupt(async (signal) => {
      const connect = await connectOptionsOf(flags, homeOf(cmd), target, signal);
      try {
        await reporter.run(() =>
          sendPaths({
            ...connect,
            paths,
            remotePath: target.remotePath,
            remoteIsDirectory: target.directory,
            recursive: flags.recursive ?? false,
            exclude,
            mkdir: flags.mkdir ?? false,
            chunkBytes: parseChunkSize(flags.chunkSize),
            streams: parseStreams(flags.streams),
            threads: parseThreads(flags.threads),
            overwrite: flags.overwrite ?? false,
            delta: flags.delta,
            onEvent: reporter.onEvent,
            onSkip: reporter.onSkip,
          }).catch(resultDespiteUnsentNames),
        );
      } catch (err) {
        if (signal.aborted) throw reporter.interrupted();
        throw err;
      }
      if (reporter.leftOut) throw reporter.leftOut;
    });
  });
}
