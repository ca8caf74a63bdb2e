// Starting the upload jobs of runUploadJobs (send-files.ts) on a session: one file, directory or link
// (beginJob), or a batch of small files (beginBatch), each settling on its own, a failure of that job alone
// reported and settled as `failed` instead of ending the run.
import { toFerryError, type FerryError } from '../errors/index.js';
import { EntryRequest } from '../machines/index.js';
import type { SealPool } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import type { ExtraStreams } from './extra-sessions.js';
import { failsOnlyThisJob } from './job-failure.js';
import { aboutUploadPath } from './remote-name.js';
import { sendBatch } from './send-batch.js';
import type { JobResult, SendFilesOptions, UploadJob } from './send-files.js';
import type { TransferReporting } from './transfer-events.js';
import { beginUpload } from './upload-file.js';

/**
 * Sends the small files `group` (indexes into `jobs`) as one batch; each job settles on its own, like
 * {@link beginJob}'s. A file that grew past a batch's bounds meanwhile goes by the one-file path.
 */
export async function beginBatch(
  session: ClientSession,
  group: readonly number[],
  jobs: readonly UploadJob[],
  options: SendFilesOptions & { extras: ExtraStreams; sealPool: SealPool | undefined },
  reporting: TransferReporting,
): Promise<Array<Promise<{ done: Promise<JobResult> }>>> {
  const files = group.map((i) => jobs[i] as Extract<UploadJob, { kind: 'file' }> & { size: number });
  const outcomes = await sendBatch(session, files, options, reporting);
  return outcomes.map(async (outcome, k) => {
    const job = files[k]!;
    if (outcome === 'fallback') return beginJob(session, job, options, reporting);
    const done = outcome.then(
      (result): JobResult => ({ kind: 'file', result }),
      (err: unknown) => {
        const error = toFerryError(err);
        if (!saysNotWhere(error)) return jobFailed(session, job, reporting, error);
        // Not reported yet: runUploadJobs asks again for this file alone (toAskAlone), whose refusal says it.
        reporting.open.end({ direction: 'upload', file: job.localPath, remotePath: job.remotePath });
        const result: JobResult = { kind: 'failed', job, error };
        askAlone.add(result);
        return result;
      },
    );
    done.catch(() => undefined);
    return { done };
  });
}

/**
 * The batch's files refused with a code that cannot say what is wrong where (PATH_INVALID: the client checked
 * the path's form, so the server's tree refused it: a directory where the file goes, a file where a directory
 * of its path is). BATCH_DONE carries a code per entry and nothing else (PROTOCOL.md §5.14), and the user saw
 * "path is not a valid relative path" of a valid path; the one-file path's refusal names the entry in the way
 * (aboutUploadPath), so runUploadJobs asks the server again for each of these files alone.
 */
const askAlone = new WeakSet<JobResult>();

/** Whether `result` is a batched file's refusal not reported yet, to ask again alone (see askAlone). */
export function toAskAlone(result: JobResult | undefined): boolean {
  return result !== undefined && askAlone.has(result);
}

function saysNotWhere(error: FerryError): boolean {
  return error.remote && error.code === 'PATH_INVALID';
}

/**
 * A job's failure: when it belongs to this job alone (see failsOnlyThisJob) it is reported and settles the
 * job as `failed`; anything else is rethrown and ends the run.
 */
function jobFailed(
  session: ClientSession,
  job: UploadJob,
  reporting: TransferReporting,
  err: unknown,
): JobResult {
  const error = toFerryError(err);
  if (!failsOnlyThisJob(error, session)) throw error;
  if (job.kind === 'file') {
    const subject = { direction: 'upload', file: job.localPath, remotePath: job.remotePath } as const;
    reporting.open.end(subject);
    reporting.emit({ type: 'transfer-failed', ...subject, code: error.code, message: error.message });
  } else {
    reporting.emit({
      type: 'entry-failed',
      kind: job.kind,
      remotePath: job.remotePath,
      code: error.code,
      message: error.message,
    });
  }
  return { kind: 'failed', job, error };
}

/** Starts one job; a failure of this job alone settles it as `failed` instead of ending the run. */
export async function beginJob(
  session: ClientSession,
  job: UploadJob,
  options: SendFilesOptions & { extras: ExtraStreams; sealPool: SealPool | undefined },
  reporting: TransferReporting,
): Promise<{ done: Promise<JobResult> }> {
  const failed = (err: unknown): JobResult => jobFailed(session, job, reporting, err);
  try {
    const { done } = await startJob(session, job, options, reporting);
    const settled = done.catch(failed);
    settled.catch(() => undefined);
    return { done: settled };
  } catch (err) {
    return { done: Promise.resolve(failed(err)) };
  }
}

async function startJob(
  session: ClientSession,
  job: UploadJob,
  options: SendFilesOptions & { extras: ExtraStreams; sealPool: SealPool | undefined },
  { emit, open, noteProgress }: TransferReporting,
): Promise<{ done: Promise<JobResult> }> {
  if (job.kind === 'file') {
    const subject = { direction: 'upload', file: job.localPath, remotePath: job.remotePath } as const;
    let started = false;
    // Displays draw a bar from the start: it must come before any progress, also for an identical file
    // that is settled without an accept.
    const start = (size: number, heldBytes: number, restarted: boolean): void => {
      if (started) return;
      started = true;
      emit({ type: 'transfer-started', ...subject, size, heldBytes, restarted });
      if (heldBytes > 0) emit({ type: 'transfer-resumed', ...subject, size, fromBytes: heldBytes });
    };
    open.begin(subject);
    /** What a delta upload sent as data (PROTOCOL.md §5.15), once it said. */
    let literal: number | undefined;
    const named = (err: unknown): never => {
      throw aboutUploadPath(err, options.server, job.remotePath);
    };
    const pending = await beginUpload(session, subject.file, subject.remotePath, {
      chunkBytes: options.chunkBytes,
      overwrite: options.overwrite,
      delta: job.replaces !== false && (options.delta ?? options.overwrite),
      replaceDir: job.replaceDir,
      replacesNotUtf8: job.replacesNotUtf8,
      signal: options.signal,
      cacheDir: options.cacheDir,
      walked: job.walked,
      extraStreams: options.extras.size > 0 ? () => options.extras.open() : undefined,
      parallelMinBytes: options.parallelMinBytes,
      sealPool: options.sealPool,
      onAccepted: ({ heldBytes, restarted, size }) => start(size, heldBytes, restarted),
      onDelta: ({ literalBytes, size }) => {
        literal = literalBytes;
        emit({ type: 'transfer-delta', ...subject, coveredBytes: size, literalBytes });
      },
      onVerified: (verifiedBytes, size) => {
        noteProgress();
        start(size, 0, false);
        emit({ type: 'progress', ...subject, verifiedBytes, size });
      },
    }).catch(named);
    const done = pending.done.then((result): JobResult => {
      start(result.size, 0, false);
      open.end(subject);
      emit({
        type: 'transfer-finished',
        ...subject,
        size: result.size,
        digest: result.digest,
        // A delta's file data on the wire is its literals; `sentBytes` counts the chunks it covered.
        transferredBytes: literal ?? result.sentBytes,
        resumedBytes: result.resumedBytes,
        restarted: result.restarted,
        identical: result.identical,
      });
      return { kind: 'file', result };
    }, named);
    done.catch(() => undefined);
    return { done };
  }
  const ref = session.openRef();
  const entry = new EntryRequest();
  if (job.kind === 'dir') {
    await session.send(
      entry.request({ type: 'PUT_DIR', ref, mode: job.mode, mtimeMs: job.mtimeMs, path: job.remotePath }),
    );
  } else {
    const { target, mtimeMs, remotePath: path } = job;
    const overwrite = options.overwrite ?? false;
    await session.send(
      entry.request({
        type: 'PUT_LINK',
        ref,
        overwrite,
        ...(overwrite && job.replaceDir === true
          ? { replaceDir: true as const, ...(job.replacesNotUtf8 === true ? { notUtf8: true as const } : {}) }
          : {}),
        mtimeMs,
        target,
        path,
      }),
    );
  }
  const done = session
    .take(ref)
    .then((message) => entry.receive(message))
    .then(
      () => {
        session.closeRef(ref);
        emit({ type: 'entry-created', kind: job.kind, remotePath: job.remotePath });
        return { kind: job.kind };
      },
      (err: unknown) => {
        session.closeRef(ref);
        throw aboutUploadPath(err, options.server, job.remotePath);
      },
    );
  done.catch(() => undefined);
  return { done };
}
