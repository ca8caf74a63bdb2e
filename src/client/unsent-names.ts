import { FerryError } from '../errors/index.js';
import type { OnSkip } from '../transfer/index.js';
import type { JobResult } from './send-files.js';

/** A local file left out of a run because the wire cannot carry its name (PROTOCOL.md §7.1). */
export interface UnsentName {
  /** Its '/'-separated path as the walk names it (the tree's top directory first). */
  readonly path: string;
  /** Why, for people: `name cannot be sent: contains byte 0x1b`. */
  readonly reason: string;
}

/**
 * How `sendPaths`, `sendTree` and `syncTree` end when the only thing wrong is local files whose names the
 * wire cannot carry: everything else went, and the run still fails, as rsync exits 23 ("partial transfer").
 * Code PATH_INVALID, naming the first file and counting them; `unsent` lists them all and `result` is what
 * the call would have resolved with. A run that failed otherwise rejects with that failure instead (the
 * names were told to `onSkip` all the same).
 */
export class UnsentNamesError<R> extends FerryError {
  readonly unsent: readonly UnsentName[];
  readonly result: R;

  constructor(unsent: readonly UnsentName[], total: number, result: R) {
    const first = unsent[0]!;
    super('PATH_INVALID', `${first.reason}; ${unsent.length} of ${total} files not sent`, {
      subject: first.path,
    });
    this.name = 'UnsentNamesError';
    this.unsent = unsent;
    this.result = result;
  }
}

/**
 * Collects the names a walk could not send while passing every skip on to the caller's `onSkip`, then
 * fails a run that left any out ({@link UnsentNamesError}).
 */
export class UnsentNames {
  readonly #names: UnsentName[] = [];
  /** The `onSkip` to give the walk. */
  readonly onSkip: OnSkip;

  constructor(onSkip: OnSkip | undefined) {
    this.onSkip = (path, reason, kind) => {
      if (kind === 'unsendable-name') this.#names.push({ path, reason });
      onSkip?.(path, reason, kind);
    };
  }

  /** `result`, or the UnsentNamesError carrying it when names were left out; `sent`: the files sent or skipped. */
  settle<R>(result: R, sent: number): R {
    if (this.#names.length === 0) return result;
    throw new UnsentNamesError([...this.#names], sent + this.#names.length, result);
  }

  /** A send's `results`, settled as {@link settle} does, counting the files among them. */
  settleJobs(results: JobResult[]): JobResult[] {
    return this.settle(results, results.filter((r) => r.kind === 'file').length);
  }
}
