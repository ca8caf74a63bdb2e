import { FerryError } from '../errors/index.js';
import type { ClientSession } from './client-session.js';

/** Categories of errors that concern one file or entry (PROTOCOL.md §5.1: an ERROR with its ref). */
const JOB_CATEGORIES: ReadonlySet<string> = new Set(['usage', 'path', 'transfer', 'storage', 'trust']);

/**
 * True when `error` ends only its own job (one file of a `send` or a `get`, one entry of a tree): not worth
 * a retry, and the session is still sound, so the run carries on with the others. A retryable error or a
 * dead session goes to the retry loop instead; a protocol error ends the run. The one policy for both
 * directions.
 */
export function failsOnlyThisJob(error: FerryError, session: ClientSession): boolean {
  return !error.retryable && JOB_CATEGORIES.has(error.category) && !session.failed;
}

/** One job that failed on its own, and the name to give it when its error names nothing. */
export interface JobFailure {
  error: FerryError;
  /** The remote path for the server's refusals, the local path for local failures. */
  name: string;
}

/**
 * The error a run ends with when some jobs failed on their own: the first failure's code (so callers and
 * the exit code see what went wrong), naming its path and how many failed.
 */
export function jobsFailedError(
  failures: readonly JobFailure[],
  total: { total: number; files: boolean },
): FerryError {
  const first = failures[0]!;
  // An error that names its subject already (`HOST:PORT/path`, a local file) keeps that name.
  const name = first.error.subject ?? first.name;
  const what = total.files ? 'files' : 'entries';
  const count = total.total > 1 ? `${failures.length} of ${total.total} ${what} failed` : undefined;
  // The count is ferry's, not the server's: a hint, after the server's words.
  const hint = [first.error.hint, count].filter((part) => part !== undefined).join('; ');
  return new FerryError(first.error.code, first.error.detail, {
    cause: first.error,
    remote: first.error.remote,
    subject: name,
    hint,
  });
}
