import { join } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import { resolveUnderRoot, KnownLeafHashes } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { beginDownload, type DownloadResult } from './download-file.js';
import type { FileJob } from './download-plan.js';
import { getBatch, type BatchedDownload } from './get-batch.js';
import type { GetFilesOptions } from './get-files.js';
import { directoryNeedsRecursive } from './get-plan.js';
import { aboutRemotePath, remoteName } from './remote-name.js';
import { onThisMachine } from './on-this-machine.js';
import { failsOnlyThisJob } from './job-failure.js';
import type { ExtraStreams } from './extra-sessions.js';
import type { TransferReporting, TransferSubject } from './transfer-events.js';

/**
 * The outcome of one download. `failed`: this file alone was refused, and the run carried on with the
 * others (the same policy as uploads: {@link failsOnlyThisJob}).
 */
export type GetJobResult =
  | { kind: 'file'; result: DownloadResult }
  | { kind: 'failed'; file: string; remotePath: string; error: FerryError };

/** Requests in flight for the files of one batch that go the one-file path (see `startBatch`). */
const FALLBACKS_IN_FLIGHT = 16;

/**
 * Starts the downloads of one get on one session, a file or a batch of small ones at a time, and turns each
 * outcome into the run's events: a file refused on its own settles as `failed` and the run goes on.
 */
export class DownloadStarter {
  constructor(
    private readonly session: ClientSession,
    private readonly localDir: string,
    private readonly options: GetFilesOptions & { extras: ExtraStreams },
    private readonly reporting: TransferReporting,
  ) {}

  /** Starts one file; `done` settles with its outcome, rejecting only for what ends the whole session. */
  async start(job: FileJob): Promise<{ done: Promise<GetJobResult> }> {
    // Named before anything can fail, so a failure of this file alone is reported with its name: under the
    // destination as the caller named it (`x/a.txt`, as `send` names its source), not its real path.
    const subject = {
      direction: 'download',
      file: join(this.options.localDir, ...job.local),
      remotePath: job.remotePath,
    } as const;
    // One file refused on its own does not end the run (the policy uploads follow too).
    const failed = (err: unknown): GetJobResult =>
      this.failed(
        job,
        subject,
        directoryWithoutRecursive(
          onThisMachine(aboutRemotePath(err, this.options.server, job.remotePath), {
            root: this.localDir,
            local: job.local,
          }),
          this.options,
          job.remotePath,
        ),
      );
    try {
      const { done } = await this.startFile(job, subject);
      const settled = done.catch(failed);
      settled.catch(() => undefined);
      return { done: settled };
    } catch (err) {
      return { done: Promise.resolve(failed(err)) };
    }
  }

  /** Small files (PROTOCOL.md §5.20): one request and a few records for many, each placed as one file is. */
  async startBatch(group: readonly BatchedDownload[]): Promise<GetJobResult[]> {
    const { options } = this;
    for (const { subject } of group) this.reporting.open.begin(subject);
    const outcomes = await getBatch(this.session, group, {
      overwrite: options.overwrite,
      temporaryMaxAgeMs: options.batchTemporaryMaxAgeMs,
    });
    // The files the batch did not settle go the one-file path, FALLBACKS_IN_FLIGHT requests at a time: they
    // share this batch's one place in the window (§5.11.4 bounds what a client pipelines).
    const fallbacks = new Map<number, Promise<GetJobResult>>();
    const inFlight: Array<Promise<unknown>> = [];
    for (const [k, outcome] of outcomes.entries()) {
      if (outcome !== 'fallback') continue;
      if (inFlight.length >= FALLBACKS_IN_FLIGHT) await inFlight.shift();
      const { done } = await this.start(group[k]!.job);
      fallbacks.set(k, done);
      inFlight.push(done.catch(() => undefined));
    }
    // Every fallback settled first: one failing with its session must not leave the others writing.
    await Promise.allSettled(fallbacks.values());
    return Promise.all(
      outcomes.map(async (outcome, k): Promise<GetJobResult> => {
        const { job, subject, target } = group[k]!;
        if (outcome === 'fallback') return fallbacks.get(k)!;
        if (outcome instanceof FerryError) {
          // Compared locally, as VERIFY_ONLY's answer is (§5.11.1): *our* file differs from the server's.
          const error =
            outcome.code === 'FILE_EXISTS'
              ? differsHere(options, job.remotePath, target.path, outcome)
              : outcome.remote
                ? outcome.about(target.path)
                : onThisMachine(outcome, { root: this.localDir, local: job.local });
          return this.failed(job, subject, error);
        }
        const { emit, noteProgress } = this.reporting;
        noteProgress();
        const { size, identical } = outcome;
        emit({
          type: 'transfer-started',
          ...subject,
          size,
          heldBytes: identical ? size : 0,
          restarted: false,
        });
        if (!identical) emit({ type: 'progress', ...subject, verifiedBytes: size, size });
        return this.finished(subject, outcome);
      }),
    );
  }

  private async startFile(job: FileJob, subject: TransferSubject): Promise<{ done: Promise<GetJobResult> }> {
    const { options, localDir } = this;
    const { emit, open, noteProgress } = this.reporting;
    open.begin(subject);
    if (job.refused) throw job.refused;
    const resolved = await resolveUnderRoot(localDir, job.local, {
      createDirs: true,
      allowLink: job.replaces !== undefined,
      allowDirectory: job.replaces === 'dir',
    }).catch((err: unknown) => {
      // A directory here of the name of a directory there (a `get -r` of it before): the user forgot -r,
      // which "file system error: DIR: is a directory (eisdir)" never said.
      const local = toFerryError(err);
      const directoryHere = local.code === 'PATH_INVALID' && local.detail === 'destination is a directory';
      if (job.listedAsDirectory && !options.recursive && directoryHere)
        throw directoryNeedsRecursive(options.server, job.remotePath, local);
      throw err;
    });
    const target = job.replaces
      ? { ...resolved, replaces: job.replaces, replacesNotUtf8: job.replacesNotUtf8 === true }
      : resolved;
    const pending = await beginDownload(this.session, subject.remotePath, target, {
      chunkBytes: options.chunkBytes,
      overwrite: options.overwrite,
      delta: options.delta,
      durableBatchBytes: options.durableBatchBytes,
      knownLeafHashes:
        options.cacheDir === undefined ? undefined : KnownLeafHashes.at(join(options.cacheDir, 'leaves')),
      streams: options.extras.size + 1,
      extraStreams: options.extras.size > 0 ? () => options.extras.open() : undefined,
      parallelMinBytes: options.parallelMinBytes,
      onStarted: ({ size, heldBytes, reusedBytes }) => {
        emit({ type: 'transfer-started', ...subject, size, heldBytes, restarted: false });
        // Leaves a delta took from the old file (PROTOCOL.md §5.17) are held, but nothing was resumed.
        const resumed = heldBytes - reusedBytes;
        if (resumed > 0 && heldBytes < size)
          emit({ type: 'transfer-resumed', ...subject, size, fromBytes: resumed });
      },
      onVerified: (verifiedBytes, size) => {
        noteProgress();
        emit({ type: 'progress', ...subject, verifiedBytes, size });
      },
    });
    const named = (err: unknown): never => {
      const error = onThisMachine(aboutRemotePath(err, options.server, job.remotePath), {
        root: localDir,
        local: job.local,
      });
      // VERIFY_ONLY (PROTOCOL.md §5.11.1): our own comparison found *our* file differs from the server's copy.
      if (error.code === 'FILE_EXISTS' && target.exists && !options.overwrite && !error.remote)
        throw differsHere(options, job.remotePath, target.path, error);
      throw error;
    };
    const tracked = pending.done.then((result) => this.finished(subject, result), named);
    tracked.catch(() => undefined);
    return { done: tracked };
  }

  /** A file verified and in place, by a batch or on its own: its event, and the run's outcome. */
  private finished(subject: TransferSubject, result: DownloadResult): GetJobResult {
    this.reporting.open.end(subject);
    this.reporting.emit({
      type: 'transfer-finished',
      ...subject,
      size: result.size,
      digest: result.digest,
      transferredBytes: result.receivedBytes,
      resumedBytes: result.resumedBytes,
      reusedBytes: result.reusedBytes,
      restarted: false,
      identical: result.identical,
    });
    return { kind: 'file', result };
  }

  /** A file refused on its own: reported, and the run goes on; anything else ends the session. */
  private failed(job: FileJob, subject: TransferSubject, error: FerryError): GetJobResult {
    if (!failsOnlyThisJob(error, this.session)) throw error;
    this.reporting.open.end(subject);
    this.reporting.emit({ type: 'transfer-failed', ...subject, code: error.code, message: error.message });
    return { kind: 'failed', file: subject.file, remotePath: job.remotePath, error };
  }
}

/**
 * The server's refusal of a directory asked for as a file (its path is a directory: PATH_INVALID,
 * `destination is a directory`) in a get without -r: the user named a directory and forgot -r, as `send`
 * says of a local one (and `startFile` when a local directory is in the way of one the plan's listing saw).
 * With -r the listing never asks for a directory as a file.
 */
function directoryWithoutRecursive(
  error: FerryError,
  options: GetFilesOptions,
  remotePath: string,
): FerryError {
  if (options.recursive || !error.remote || error.code !== 'PATH_INVALID') return error;
  if (error.detail !== 'destination is a directory') return error;
  return directoryNeedsRecursive(options.server, remotePath, error);
}

/**
 * VERIFY_ONLY's answer, or a batch's, compared here (PROTOCOL.md §5.11.1): *our* file at `local` differs from
 * the server's copy, said as such rather than as the server's refusal.
 */
function differsHere(
  options: GetFilesOptions,
  remotePath: string,
  local: string,
  cause: FerryError,
): FerryError {
  return new FerryError('FILE_EXISTS', `differs from ${remoteName(options.server, remotePath)}`, {
    subject: local,
    cause,
  });
}
