import type { Command } from 'commander';
import { FerryError } from '../errors/index.js';
import { DEFAULT_CHUNK_BYTES, DEFAULT_STREAMS, DEFAULT_THREADS, syncTree } from '../client-api.js';
import type { SyncEvent, SyncSummary } from '../client-api.js';
import { homeOf } from './cli-context.js';
import { addClientFlags, connectOptionsOf, withInterrupt, type ClientFlags } from './client-options.js';
import { escapeForTerminal, jsonForTerminal } from './escape-for-terminal.js';
import { JSON_EVENTS_VERSION } from './json-events.js';
import {
  CHUNK_SIZE_HELP,
  formatByteSize,
  parseChunkSize,
  parseStreams,
  parseThreads,
} from './parse-option.js';
import { formatBytes, formatDuration, formatRate } from './progress-format.js';
import { averageRate } from './progress-speed.js';
import { checkRemotePath, parseTarget, type Target } from './parse-target.js';
import { ProgressReporter, addOutputFlags, type OutputFlags } from './progress-reporter.js';
import { syncSides } from './sync-sides.js';
import type { TallySummary } from './progress-tally.js';
import { withLocalNameHint } from './local-name-hint.js';
import { withRemoteMissingHint } from './remote-missing-hint.js';
import { withDiskFullHint } from './disk-full-hint.js';
import { withListingNotGrantedHint } from './listing-not-granted-hint.js';
import { DELTA_FLAG_HELP } from './transfer-flags.js';
import type { SkipKind } from '../transfer/index.js';
import { resultDespiteUnsentNames } from './result-despite-unsent-names.js';
import { addExcludeFlags, excludePatternsOf, type ExcludeFlags } from './exclude-flags.js';
import { writeNote } from './note-lines.js';

interface SyncFlags extends ClientFlags, OutputFlags, ExcludeFlags {
  delete?: boolean;
  dryRun?: boolean;
  checksum?: boolean;
  delta: boolean;
  chunkSize: string;
  streams: string;
  threads: string;
}

/**
 * `ferry sync SRC HOST[:PORT]/DST` and `ferry sync HOST[:PORT]/SRC DST`: DST becomes a mirror of the
 * directory SRC (its contents, as `rsync -a SRC/ DST/`). The side that exists on this machine is the local
 * one: when the first argument names an entry here, it is SRC and the sync uploads; otherwise the first is
 * the server's and the sync downloads.
 */
export function registerSyncCommand(program: Command): void {
  const command = program
    .command('sync')
    .usage('[options] SRC HOST[:PORT]/DST, or HOST[:PORT]/SRC DST')
    .description(
      'make DST a mirror of the directory SRC, one side on a server: new files sent, unchanged ones (size and mtime) skipped, changed ones sent as deltas',
    )
    .argument('<src>', 'a local directory, or HOST[:PORT]/REMOTE_DIR')
    .argument('<dst>', 'HOST[:PORT]/REMOTE_DIR when SRC is local, else a local directory (made if missing)')
    .option(
      '--delete',
      'remove from DST what SRC does not hold (never without this flag; what --exclude matches always stays)',
    )
    .option('-n, --dry-run', 'print what would be done and change nothing')
    .option('-c, --checksum', 'compare file contents by digest instead of size and mtime');
  addExcludeFlags(command)
    .option('--no-delta', DELTA_FLAG_HELP)
    .option('--chunk-size <bytes>', CHUNK_SIZE_HELP, formatByteSize(DEFAULT_CHUNK_BYTES))
    .option('--streams <n>', 'TCP connections carrying a large file in parallel', String(DEFAULT_STREAMS))
    .option(
      '--threads <n>',
      'threads for file data: hashing and encrypting up, decrypting and hashing down (README "Speed: threads")',
      String(DEFAULT_THREADS),
    );
  addOutputFlags(command, { tree: true });
  addClientFlags(command).action(async (src: string, dst: string, flags: SyncFlags, cmd: Command) => {
    const { upload } = await syncSides(src, dst);
    const target: Target = parseTarget(upload ? dst : src);
    checkRemotePath(target);
    const localDir = upload ? src : dst;
    const exclude = await excludePatternsOf(flags);
    const printer = new SyncPrinter(flags, upload);
    await withInterrupt(async (signal) => {
      const connect = await connectOptionsOf(flags, homeOf(cmd), target, signal);
      const hints = async (err: unknown): Promise<unknown> =>
        upload
          ? withListingNotGrantedHint(withLocalNameHint(err, dst), { src, dst })
          : withRemoteMissingHint(withLocalNameHint(await withDiskFullHint(err), src));
      const reporter = flags.dryRun
        ? undefined
        : new ProgressReporter(
            { ...flags, recursive: true },
            // One closing line, the sync's: a transfer summary above it ("received 0 of 1 file, 20.0 MiB
            // ..., 1 already identical" over "sync: received 1 file (0 new, 1 changed)") counted otherwise.
            { verb: upload ? 'sent' : 'received', closingLine: false, command: cmd, hints },
          );
      const onEvent = (event: SyncEvent): void => {
        if (event.type === 'sync-action') printer.action(event);
        else reporter?.onEvent(event);
      };
      const work = (): Promise<SyncSummary> =>
        syncTree({
          ...connect,
          direction: upload ? 'upload' : 'download',
          localDir,
          remotePath: target.remotePath,
          checksum: flags.checksum ?? false,
          delta: flags.delta,
          delete: flags.delete ?? false,
          exclude,
          dryRun: flags.dryRun ?? false,
          chunkBytes: parseChunkSize(flags.chunkSize),
          streams: parseStreams(flags.streams),
          threads: parseThreads(flags.threads),
          onEvent,
          // A dry run has no progress display: it says what it leaves out itself, as the real run's does.
          onSkip: reporter?.onSkip ?? ((path, reason, kind) => printer.skipped(path, reason, kind)),
        }).catch(resultDespiteUnsentNames<SyncSummary>);
      try {
        // The reporter adds the hints itself, to its error and its --json summary alike; a dry run has none.
        const done = reporter
          ? reporter.run(work)
          : work().catch(async (err: unknown) => {
              throw await hints(err);
            });
        printer.summary(await done, reporter?.succeeded);
      } catch (err) {
        if (signal.aborted && reporter) throw reporter.interrupted();
        throw err;
      }
      if (reporter?.leftOut) throw reporter.leftOut;
      if (printer.leftOut) throw printer.leftOut;
    });
  });
}

/**
 * The lines of a sync beyond the transfer's own, on stderr: removals and conflicts always; in a dry run every
 * file to send too, and in a dry run or with --verbose every link and attribute change (`skip` only with
 * --verbose). With --json a `sync-action`
 * line on stdout for every action. Then the closing summary (`sync-summary` with --json).
 */
class SyncPrinter {
  readonly #flags: SyncFlags;
  /** `send` up, `receive` down: a sync down that said "sent" read as if it had uploaded. */
  readonly #verb: { now: string; past: string };
  /** Local files a dry run would leave out because the wire cannot carry their names. */
  readonly #unsendable: Array<{ path: string; reason: string }> = [];

  constructor(flags: SyncFlags, upload: boolean) {
    this.#flags = flags;
    this.#verb = upload ? { now: 'send', past: 'sent' } : { now: 'receive', past: 'received' };
  }

  action(event: Extract<SyncEvent, { type: 'sync-action' }>): void {
    if (this.#flags.json) {
      const { type: _type, ...rest } = event;
      this.#json({ type: 'sync-action', ...rest });
      return;
    }
    if (this.#flags.quiet) return;
    const path = escapeForTerminal(event.path);
    // A real run shows its transfers as `send -r` does; what it removes or cannot place is always said.
    const listed = this.#flags.dryRun || this.#flags.verbose;
    const line = ((): string | undefined => {
      switch (event.action) {
        case 'send':
          // A real run's -v names each file once, as rsync -v does: the transfer's own line, when it is
          // verified (with its digest); this one as well said every file twice.
          return this.#flags.dryRun
            ? `${this.#verb.now} ${path} (${event.reason}, ${formatBytes(event.size)})`
            : undefined;
        case 'delete':
          return `delete ${path}${event.reason === 'replaced' ? ' (in the way)' : ''}`;
        case 'link':
          return listed ? `link ${path} -> ${escapeForTerminal(event.target)}` : undefined;
        case 'conflict':
          return `conflict ${path}: ${event.reason}${event.excluded === true ? '' : ' (use --delete to replace it)'}`;
        case 'skip':
          // A directory as rsync -v lists one, `d/`, and SRC's top `./`: its path is empty.
          return this.#flags.verbose
            ? `skip ${event.kind === 'dir' ? `${path || '.'}/` : path} (unchanged)`
            : undefined;
        case 'attributes':
          return listed ? `set mode and mtime of ${path}` : undefined;
        case 'dir':
          return undefined;
      }
    })();
    if (line !== undefined) process.stderr.write(`${this.#flags.dryRun ? 'would ' : ''}${line}\n`);
  }

  /**
   * A dry run's error when it would leave out files whose names cannot be sent, as the real run's
   * (ProgressReporter.leftOut): the dry run exits as the run would.
   */
  get leftOut(): FerryError | undefined {
    const [first] = this.#unsendable;
    if (first === undefined) return undefined;
    return new FerryError('PATH_INVALID', `${first.reason}; ${this.#unsendable.length} would not be sent`, {
      subject: first.path,
    });
  }

  /** A local entry a dry run leaves out (a link out of the tree), said as a real run's display says it. */
  skipped(path: string, reason: string, kind: SkipKind): void {
    if (kind === 'unsendable-name') this.#unsendable.push({ path, reason });
    if (this.#flags.json) {
      this.#json({ type: 'entry-skipped', path, reason, kind });
      return;
    }
    if (this.#flags.quiet) return;
    writeNote(`ferry: skipped ${escapeForTerminal(path)}: ${escapeForTerminal(reason)}`);
  }

  /**
   * The closing line; `transfers`, for a real run: their time (from the first session) and the bytes they
   * resumed from an interrupted run's partials.
   */
  summary(
    summary: SyncSummary,
    transfers: Pick<TallySummary, 'durationMs' | 'resumedBytes'> | undefined,
  ): void {
    if (this.#flags.json) {
      this.#json({ type: 'sync-summary', ...summary });
      return;
    }
    if (this.#flags.quiet) return;
    const files = `${summary.filesSent} ${summary.filesSent === 1 ? 'file' : 'files'}`;
    const split = `${summary.filesNew} new, ${summary.filesChanged} changed`;
    if (summary.dryRun) {
      writeNote(
        `dry run: would ${this.#verb.now} ${files} (${split}, ${formatBytes(summary.bytesToSend)}), skip ${summary.filesSkipped} unchanged, delete ${summary.deleted}${this.#unsendable.length > 0 ? `, leave out ${this.#unsendable.length} whose names cannot be sent` : ''}; nothing was changed`,
      );
      return;
    }
    // Said only when it happened: most syncs change no mode.
    const attributes =
      summary.attributesSet > 0 ? ` (${summary.attributesSet} given a new mode or mtime)` : '';
    const durationMs = transfers?.durationMs;
    // The rerun of an interrupted sync: "on the wire 1.18 GiB" of a 1.46 GiB file, and nothing said why.
    const resumed =
      transfers !== undefined && transfers.resumedBytes > 0
        ? `, ${formatBytes(transfers.resumedBytes)} resumed`
        : '';
    // rsync's closing "sent B bytes ... B bytes/sec": the time, and the speed of what crossed.
    const time =
      durationMs === undefined
        ? ''
        : `; ${formatDuration(durationMs)}${averageOf(summary.dataBytes, durationMs)}`;
    // Said only when a file went as a delta, and how many did: "the delta saved 0 B" after a sync of new files
    // alone, or of nothing, read as a delta that had failed.
    const delta =
      summary.deltaFiles > 0
        ? `, the ${summary.deltaFiles === 1 ? 'delta of 1 file' : `deltas of ${summary.deltaFiles} files`} saved ${formatBytes(summary.savedBytes)}`
        : '';
    writeNote(
      `sync: ${this.#verb.past} ${files} (${split}), skipped ${summary.filesSkipped} unchanged${attributes}, deleted ${summary.deleted}; file data on the wire ${formatBytes(summary.dataBytes)}${resumed}${delta}${time}`,
    );
  }

  /** One `--json` line, its keys led by `v`, `type`, `time` as every other line's (json-events.ts). */
  #json({ type, ...fields }: { type: string } & Record<string, unknown>): void {
    const line = { v: JSON_EVENTS_VERSION, type, time: Date.now(), ...fields };
    process.stdout.write(`${jsonForTerminal(line)}\n`);
  }
}

/** `, avg 41.0 MiB/s`: said only when enough crossed for a speed to mean something (averageRate). */
function averageOf(dataBytes: number, durationMs: number): string {
  const rate = averageRate(dataBytes, durationMs);
  return rate === undefined ? '' : `, avg ${formatRate(rate)}`;
}
