import { FerryError } from '../errors/index.js';
import { parseRemotePath } from '../protocol/index.js';
import type { BeforeTreeWrite, OnSkip } from '../transfer/index.js';
import type { ConnectOptions } from './send-files.js';
import { syncDown } from './sync-down.js';
import type { SyncAction, SyncCounts } from './sync-plan.js';
import { SyncTally } from './sync-shared.js';
import { syncUp } from './sync-up.js';
import { ExcludePatterns } from './sync-exclude.js';
import { UnsentNames } from './unsent-names.js';
import type { TransferDirection, TransferEvent } from './transfer-events.js';

/**
 * What `syncTree` reports: the one client event stream of `send` and `get` ({@link TransferEvent}), plus
 * `sync-action`, once per planned action before anything changes (also in a dry run, where nothing follows).
 */
export type SyncEvent = TransferEvent | ({ type: 'sync-action'; direction: TransferDirection } & SyncAction);

export interface SyncTreeOptions extends ConnectOptions {
  /** `upload`: the local tree `localDir` onto `remotePath`; `download`: `remotePath` onto `localDir`. */
  direction: TransferDirection;
  /** The local directory: SRC of an upload, DST of a download (made if missing). */
  localDir: string;
  /** The remote directory ('/'-separated, '' for the client's root): DST of an upload, SRC of a download. */
  remotePath: string;
  /** Compare files by digest (PROTOCOL.md §7.2) instead of size and mtime. */
  checksum?: boolean;
  /** Remove from DST what SRC does not hold. Never without it. */
  delete?: boolean;
  /** False: changed files travel whole, not as deltas (PROTOCOL.md §5.15, §5.17); default true. */
  delta?: boolean;
  /** Extra sessions for an upload's deltas, beside the primary; default SYNC_DELTA_SESSIONS, 0 for none. */
  deltaSessions?: number;
  /**
   * Patterns of entries to leave out of the sync on both sides, rsync's subset (see {@link ExcludePatterns}:
   * `*.log`, `/build/`, `docs/**`), relative to SRC's and DST's tops: an excluded entry is neither sent nor,
   * in DST, removed by `delete`; an excluded local directory is not read. Never taken from the server.
   */
  exclude?: readonly string[];
  /** Plan and report (`sync-action` events), change nothing. */
  dryRun?: boolean;
  chunkBytes?: number;
  streams?: number;
  threads?: number;
  onEvent?: (event: SyncEvent) => void;
  /**
   * Local entries of an upload's SRC left out, with their kind (links leading outside it, special files,
   * names the wire cannot carry: those make the sync reject once the rest went, UnsentNamesError).
   */
  onSkip?: OnSkip;
  /**
   * Downloading: a client batch temporary older than this (by ctime) in DST is a killed client's leftover
   * and is swept (default BATCH_TEMPORARY_MAX_AGE_MS; tests set it).
   */
  batchTemporaryMaxAgeMs?: number;
  /**
   * Tests only, downloading: `GetFilesOptions.beforeTreeWrite`, run in DST's removals and in the setting of
   * DST's own attributes too.
   */
  beforeTreeWrite?: BeforeTreeWrite;
}

/** What each direction of a sync is given: the options, with the exclude patterns compiled once. */
export interface SyncSideOptions extends SyncTreeOptions {
  excluded: ExcludePatterns;
}

/** What a sync did (or, in a dry run, would do). */
export interface SyncSummary extends SyncCounts {
  dryRun: boolean;
  /** File bytes that crossed the wire: literals of a delta, whole files otherwise. */
  dataBytes: number;
  /** Bytes of changed files that a delta did not have to send (their size less the bytes that went). */
  savedBytes: number;
  /**
   * The changed files of `savedBytes`, which saved some of their bytes: 0 when every file went whole (new
   * files, or files too small for a delta) or none went.
   */
  deltaFiles: number;
}

/**
 * Makes DST a mirror of SRC, one side local and the other on the server (`ferry sync`): the contents of SRC
 * become the contents of DST. Both trees are listed (the remote one by LIST, PROTOCOL.md §5.12), the pure rule
 * `planSync` decides, and the actions go the ways `send -r` and `get -r` go: new files sent, unchanged ones
 * (same size and mtime, or with `checksum` the same digest) skipped without reading, changed ones sent with
 * OVERWRITE, as deltas where the transfer offers one (§5.15), links and directories with their modes and
 * mtimes (a directory only where its attributes differ or the plan changes its entries), a file whose content is the same but whose mode (or, with `checksum`, mtime) is not given SRC's
 * without its data (SET_ATTRIBUTES §5.19 on the server; here the same rule), and with `delete` the entries
 * SRC lacks removed, deepest first (REMOVE_REQUEST §5.16 on the server; here the same rule, never following
 * a link). Resolves with the summary; rejects like `sendTree`/`getFiles`
 * when some entries failed, once the others are done, and with SYNC_CONFLICT when a directory in DST stood in
 * the way of an entry of SRC and `delete` was not given (a `conflict` action), and with UnsentNamesError
 * (PATH_INVALID, carrying the summary) when SRC held a file whose name the wire cannot carry (PROTOCOL.md §7.1),
 * in a dry run too.
 */
export async function syncTree(options: SyncTreeOptions): Promise<SyncSummary> {
  if (options.remotePath !== '') parseRemotePath(options.remotePath);
  // A pattern that names nothing is refused before any connection.
  const excluded = new ExcludePatterns(options.exclude ?? []);
  const tally = new SyncTally(options.onEvent);
  const unsent = new UnsentNames(options.onSkip);
  const sides = { ...options, onSkip: unsent.onSkip, excluded };
  const counts = options.direction === 'upload' ? await syncUp(sides, tally) : await syncDown(sides, tally);
  // Everything else went: DST is still no mirror where a directory stood in the way of an entry of SRC.
  if (counts.conflicts > 0 && !options.dryRun) {
    // With `delete` a directory stays in the way only for the excluded entries it holds (planSync): saying
    // that --delete replaces it would send the user round in a circle.
    const why = options.delete
      ? 'its directory holds excluded entries, which --delete keeps'
      : 'sync --delete replaces such a directory';
    throw new FerryError(
      'SYNC_CONFLICT',
      `${counts.conflicts} ${counts.conflicts === 1 ? 'entry' : 'entries'} not placed (${why})`,
    );
  }
  const summary: SyncSummary = {
    ...counts,
    dryRun: options.dryRun ?? false,
    dataBytes: tally.dataBytes,
    savedBytes: tally.savedBytes,
    deltaFiles: tally.deltaFiles,
  };
  return unsent.settle(summary, counts.filesSent + counts.filesSkipped);
}
