import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import { formatFerryId } from '../crypto/index.js';
import { joinRemotePath } from '../protocol/index.js';
import { DEFAULT_THREADS, SealPool, type WalkedInode } from '../transfer/index.js';
import type { ClientSessionOptions } from './client-session-options.js';
import { ClientSession } from './client-session.js';
import type { ServerAddress } from './server-address.js';
import { DEFAULT_STREAMS, DeltaLanes, ExtraStreams } from './extra-sessions.js';
import { InFlightWindow } from './in-flight-window.js';
import { jobsFailedError, type JobFailure } from './job-failure.js';
import type { UploadResult } from './upload-file.js';
import { MAX_BATCHES_IN_FLIGHT } from '../machines/index.js';
import { beginBatch, beginJob, toAskAlone } from './begin-job.js';
import { batchHasRoom, batchable } from './send-batch.js';
import { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from './retry-policy.js';
import { OpenTransfers, type SessionEvent, type TransferEvent } from './transfer-events.js';

/** One thing to create on the server: a file's content, a directory, or a symbolic link. */
export type UploadJob =
  | {
      kind: 'file';
      localPath: string;
      remotePath: string;
      size?: number;
      /** Found by a walk of a local tree: the file it found there, the only one read (`SourceFile.open`). */
      walked?: WalkedInode;
      /**
       * The destination holds a file at this path (sync's changed files): with delta, it goes on its own,
       * never in a batch, so it can be sent as a delta (PROTOCOL.md §5.15). `false`: sent whole, the offer
       * asks for no delta (sync's new files, and changed ones too small for a delta to pay): one that asks
       * waits a round trip for the server's answer before any data, one file at a time (issue 16).
       */
      replaces?: boolean;
      /** Never in a batch: it replaces a remote link, which only a PUT_OFFER with OVERWRITE does (§5.3). */
      alone?: boolean;
      /**
       * It replaces a remote directory, with all it holds, when it is placed (REPLACE_DIR, §5.3; sync's
       * `--delete`): never in a batch, never a delta.
       */
      replaceDir?: boolean;
      /** With `replaceDir`: names that are not UTF-8 below it go too (NOT_UTF8, §5.3). */
      replacesNotUtf8?: boolean;
    }
  | { kind: 'dir'; remotePath: string; mode: number; mtimeMs: number }
  | {
      kind: 'link';
      remotePath: string;
      target: string;
      mtimeMs: number;
      /** It replaces a remote directory, with all it holds, when it is placed (REPLACE_DIR, §5.10). */
      replaceDir?: boolean;
      /** With `replaceDir`: names that are not UTF-8 below it go too (NOT_UTF8, §5.10). */
      replacesNotUtf8?: boolean;
    };

/**
 * The outcome of one job. `failed`: this job alone was refused or could not be read, and the run carried
 * on with the others (see {@link runUploadJobs}).
 */
export type JobResult =
  | { kind: 'file'; result: UploadResult }
  | { kind: 'dir' }
  | { kind: 'link' }
  | { kind: 'failed'; job: UploadJob; error: FerryError };

/** What happens during a send: the one client event stream (see {@link TransferEvent}). */
export type SendEvent = TransferEvent;

export type { SessionEvent };

/**
 * How to reach and trust the server, shared by every client operation: the session's own options
 * (`ClientSessionOptions`, one place for what they mean) plus where the server is and how to retry.
 */
export interface ConnectOptions extends Pick<
  ClientSessionOptions,
  | 'identity'
  | 'verifyServer'
  | 'connectTimeoutMs'
  | 'handshakeTimeoutMs'
  | 'stallTimeoutMs'
  | 'progressTimeoutMs'
  | 'progressClock'
  | 'progressTicker'
  | 'onServerKey'
  | 'openPool'
  | 'rekey'
> {
  server: ServerAddress;
  /**
   * Ferry's home on this machine (`ferry --home`): a recursive download into a directory that holds it
   * never writes or removes anything of it (`HomeInDestination`). The CLI always sets it.
   */
  homeDir?: string;
  /** Retry behaviour; fields left out take DEFAULT_RETRY_POLICY's. */
  retry?: Partial<RetryPolicy>;
  signal?: AbortSignal;
}

export interface SendFilesOptions extends ConnectOptions {
  /** Local files; each keeps its base name inside `remoteDir`. */
  files: readonly string[];
  /** Remote directory ('/'-separated, relative to the client's root on the server); '' for the root. */
  remoteDir?: string;
  chunkBytes?: number;
  overwrite?: boolean;
  /**
   * With `overwrite`, a file that exists on the server is sent as a delta: only what the server lacks
   * (PROTOCOL.md §5.15). Default: on whenever `overwrite` is.
   */
  delta?: boolean;
  /** Where chunk hashes are cached so a resume need not re-read what the server holds. */
  cacheDir?: string;
  /** TCP connections (each its own session) that carry large files in parallel; default DEFAULT_STREAMS. */
  streams?: number;
  /** Files from this size on use the extra streams; default PARALLEL_MIN_BYTES (64 MiB). */
  parallelMinBytes?: number;
  /**
   * Threads that hash and seal file data (issue 14): 1 keeps it all on the event loop, more runs a `SealPool`
   * of that many worker threads for the whole operation. Default DEFAULT_THREADS.
   */
  threads?: number;
  onEvent?: (event: TransferEvent) => void;
  /**
   * Extra sessions that carry the jobs sent as deltas (`replaces: true`), each its own queue beside the
   * primary (default 0: every job on the primary). A delta waits a round trip for the server's signature
   * and the server takes one upload at a time per session (PROTOCOL.md §5.15, §6.2), so many changed
   * files went one after the other (issue 16); sessions run side by side, at about 1.6 ms of client CPU
   * for the handshake each.
   */
  deltaSessions?: number;
}

/**
 * Uploads files, each under its base name in `remoteDir`. Resolves only once the server verified and
 * stored every file; when some could not be, the others are still sent and it then rejects (see
 * {@link runUploadJobs}).
 */
export async function sendFiles(options: SendFilesOptions): Promise<UploadResult[]> {
  if (options.files.length === 0) throw new FerryError('USAGE_INVALID', 'no files to send');
  const jobs: UploadJob[] = options.files.map((localPath) => ({
    kind: 'file',
    localPath,
    remotePath: joinRemotePath(options.remoteDir ?? '', basename(localPath)),
  }));
  const results = await runUploadJobs(jobs, options);
  return results
    .map((r) => (r.kind === 'file' ? r.result : undefined))
    .filter((r): r is UploadResult => r !== undefined);
}

/**
 * Runs upload jobs in order over one session at a time, pipelined (PROTOCOL.md §5.8): up to MAX_PIPELINED
 * jobs are in flight, so many small files cost neither a connection nor a round trip each. A retryable
 * failure (network, stall, corrupted record) is followed by a new session after a backoff; jobs already
 * confirmed are not redone, and a file in flight resumes from the chunks the server proves it holds.
 *
 * A failure that belongs to one job (the server refused that ref, the local file cannot be read) does not
 * stop the run: like scp and rsync, the other jobs carry on, the failed one is reported at once
 * (`transfer-failed` or `entry-failed`) and never retried, and once every job settled this rejects with
 * {@link jobsFailedError}. Anything else (the session is gone, aborted, a protocol error) stops the run.
 */
export async function runUploadJobs(
  planned: readonly UploadJob[] | ((session: ClientSession) => Promise<readonly UploadJob[]>),
  options: SendFilesOptions,
): Promise<JobResult[]> {
  const emit = options.onEvent ?? (() => undefined);
  const open = new OpenTransfers();
  // Jobs may depend on the server (where `send a HOST/b` puts `a`): planned once, on the first session, and
  // announced (`planned`) before any of them starts.
  let jobs = typeof planned === 'function' ? undefined : planned;
  if (jobs !== undefined && options.onEvent) emit(await planOf(jobs));
  const threads = options.threads ?? DEFAULT_THREADS;
  const sealPool = threads > 1 ? new SealPool(threads) : undefined;
  try {
    const results = await withRetries<JobResult>(options, emit, async (session, results, noteProgress) => {
      if (jobs === undefined && typeof planned === 'function') {
        jobs = await planned(session);
        if (options.onEvent) emit(await planOf(jobs));
      }
      const extras = new ExtraStreams(options, (options.streams ?? DEFAULT_STREAMS) - 1);
      const deltaLanes = new DeltaLanes(options, jobs!, results);
      const window = new InFlightWindow(results, noteProgress);
      // Batches sent and not yet answered (PROTOCOL.md §5.14: at most MAX_BATCHES_IN_FLIGHT).
      const batches: Array<Promise<unknown>> = [];
      try {
        const all = jobs!;
        const reporting = { emit, open, noteProgress };
        // Whether a file, a link or a batch was started.
        let filesInFlight = false;
        for (let index = 0; index < all.length; index++) {
          if (results[index] !== undefined) continue;
          const group = smallFilesFrom(all, index, results, options);
          if (group.length > 1) {
            filesInFlight = true;
            if (batches.length >= MAX_BATCHES_IN_FLIGHT) await batches.shift();
            await window.addGroup(group, async () => {
              const outcomes = await beginBatch(
                session,
                group,
                all,
                { ...options, extras, sealPool },
                reporting,
              );
              const done = Promise.all(outcomes.map(async (o) => (await o).done));
              done.catch(() => undefined);
              batches.push(done.catch(() => undefined));
              return { done };
            });
            index = group[group.length - 1]!;
            continue;
          }
          const job = all[index]!;
          // A directory is given its mtime once every file, link and batch below it sent before it is in
          // place (PROTOCOL.md §5.10). The server places a file after its PUT_END, in the background, and may
          // take a PUT_DIR first: the rename would then move the mtime just set (issue 16: seen once sync
          // stopped re-sending every directory). So those answered first, on the lanes too; not every upload
          // in flight (issue 16: a tree's ten directories then waited for the last file, and went one after
          // another after it, ~13 ms of a sync of 1,000 files with 10 changed).
          if (job.kind === 'dir' && filesInFlight) {
            const dir = job.remotePath;
            await window.settledWhere(
              (i) => all[i]!.kind !== 'dir' && (dir === '' || all[i]!.remotePath.startsWith(`${dir}/`)),
            );
            await deltaLanes.settled();
          }
          if (job.kind !== 'dir') filesInFlight = true;
          const lane = deltaLanes.laneFor(job);
          await window.add(index, () =>
            lane
              ? lane.start((laneSession) =>
                  beginJob(laneSession, job, { ...options, extras, sealPool }, reporting),
                )
              : beginJob(session, job, { ...options, extras, sealPool }, reporting),
          );
        }
        await window.drain();
        // Batched files refused with a code that says nothing of where (toAskAlone), asked again alone now
        // that no batch is in flight (PROTOCOL.md §5.14: no PUT_BATCH while an upload is open).
        for (let index = 0; index < all.length; index++) {
          if (!toAskAlone(results[index])) continue;
          const job = all[index]!;
          await window.add(index, () => beginJob(session, job, { ...options, extras, sealPool }, reporting));
        }
        await window.drain();
        await Promise.all([extras.end(), deltaLanes.end()]);
      } finally {
        extras.close();
        deltaLanes.close();
        session.leaveRunning(window.leftOver());
      }
    });
    const failures = results.filter((r): r is Extract<JobResult, { kind: 'failed' }> => r.kind === 'failed');
    if (failures.length > 0)
      throw jobsFailedError(failures.map(failureOf), {
        total: jobs!.length,
        files: jobs!.every((job) => job.kind === 'file'),
      });
    return results;
  } catch (err) {
    const error = toFerryError(err);
    open.failAll(emit, error.code, error.message);
    throw error;
  } finally {
    await sealPool?.close();
  }
}

/** The `planned` event: the files of `jobs` and their sizes (walked trees know them; others are stat'ed). */
async function planOf(jobs: readonly UploadJob[]): Promise<TransferEvent> {
  let files = 0;
  let bytes = 0;
  for (const job of jobs) {
    if (job.kind !== 'file') continue;
    files++;
    // A file that cannot be read counts 0 here; its failure is reported when its turn comes.
    bytes +=
      job.size ??
      (await stat(job.localPath).then(
        (s) => (s.isFile() ? s.size : 0),
        () => 0,
      ));
  }
  return { type: 'planned', files, bytes };
}

/** The server's refusal is about the destination; a local failure about the source. */
function failureOf({ job, error }: Extract<JobResult, { kind: 'failed' }>): JobFailure {
  return { error, name: job.kind === 'file' && !error.remote ? job.localPath : job.remotePath };
}

/**
 * The indexes of the small files from `index` on that go in one batch (PROTOCOL.md §5.14): consecutive
 * file jobs not done yet, of known small size, up to the batch's bounds, no remote path twice.
 */
function smallFilesFrom(
  jobs: readonly UploadJob[],
  index: number,
  results: readonly (JobResult | undefined)[],
  options: Pick<SendFilesOptions, 'chunkBytes' | 'delta' | 'overwrite'>,
): number[] {
  const { chunkBytes } = options;
  const delta = (options.delta ?? options.overwrite) === true;
  const group: number[] = [];
  const paths = new Set<string>();
  let bytes = 0;
  for (let i = index; i < jobs.length && results[i] === undefined; i++) {
    const job = jobs[i]!;
    if (job.kind !== 'file' || !batchable(job.size, chunkBytes) || paths.has(job.remotePath)) break;
    if ((delta && job.replaces === true) || job.alone === true || job.replaceDir === true) break;
    if (!batchHasRoom(group.length, bytes, job.size)) break;
    group.push(i);
    paths.add(job.remotePath);
    bytes += job.size;
  }
  return group;
}

/**
 * Runs `work` on a session, and again on a new session after a retryable failure, with exponential
 * backoff and jitter. `results` survives across attempts so `work` can skip what is done. Only
 * consecutive failures without progress count against the retry budget.
 */
export async function withRetries<R>(
  options: ConnectOptions,
  emit: (event: SessionEvent) => void,
  work: (session: ClientSession, results: R[], noteProgress: () => void) => Promise<void>,
): Promise<R[]> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const results: R[] = [];
  let failures = 0;
  let connectedOnce = false;
  for (let attempt = 1; ; attempt++) {
    let session: ClientSession | undefined;
    let progressed = false;
    try {
      session = await ClientSession.connect(options.server, options);
      connectedOnce = true;
      emit({
        type: 'session-opened',
        serverPublicKey: session.serverPublicKey,
        serverId: formatFerryId(session.serverPublicKey),
        attempt,
      });
      await work(session, results, () => {
        progressed = true;
      });
      await session.end();
      return results;
    } catch (err) {
      const thrown = options.signal?.aborted ? new FerryError('ABORTED') : toFerryError(err);
      // What the server said before it closed decides, not the close the work hit first.
      const error = session ? await session.closeAfter(thrown) : thrown;
      // The attempt's work still in flight ends with its session: it all settles before a retry starts or the
      // caller hears of the failure.
      await session?.leftRunningSettled();
      if (error.code === 'STALLED') emit({ type: 'stalled', attempt, message: error.message });
      failures = progressed ? 1 : failures + 1;
      // Retries are for connections that worked once: a server that refuses or a host that does not
      // resolve on the first attempt is a mistake in the address, and waiting would only hide it.
      if (!connectedOnce && error.code === 'CONNECT_FAILED') throw error;
      if (!error.retryable || failures > policy.retries) throw error;
      const delayMs = retryDelayMs(failures, policy);
      emit({ type: 'retrying', attempt: attempt + 1, delayMs, code: error.code, message: error.message });
      await policy.sleep(delayMs, options.signal);
    }
  }
}
