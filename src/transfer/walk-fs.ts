import { lstatSync, opendirSync, type Stats } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { isUtf8 } from 'node:buffer';
import type { DirectoryName } from './directory-names.js';

/**
 * Calls on the walk's thread are judged by windows of this many: a window that takes longer than
 * WINDOW_BUDGET_NS, with at least SLOW_CALLS_TO_POOL of its calls over SLOW_CALL_NS, waited on the disk, and
 * the rest of the walk goes to the pool. Not call by call: a cached `lstat` takes 3-9 µs here, but one in a
 * few hundred takes 1-10 ms (the virtual machine's CPU taken away, a collection), where a disk read makes
 * them all slow.
 */
const WINDOW_CALLS = 64;
const SLOW_CALL_NS = 200_000n;
const WINDOW_BUDGET_NS = BigInt(WINDOW_CALLS) * SLOW_CALL_NS;
/**
 * A window's time alone did not tell a disk from a thread taken away: on two cores with a client and its
 * server both busy, one call of a window took over 12.8 ms now and then (the server's thread preempted), and
 * the verdict then sent the server's listings to the pool for 30 s, at ~40 µs of the event loop's CPU a
 * `lstat` against ~20 on it (issue 16, the tree case's re-sync: the server's listing walk 59 -> 46 ms of CPU,
 * profiled over 8 syncs each). A disk makes every call slow, a preemption or a collection one. The price: a
 * disk slower than a window's budget in one call holds the loop for 4 of them before the pool takes over.
 */
const SLOW_CALLS_TO_POOL = 4;

/**
 * How long a walk's finding that the disk is being read holds for the walks of its thread that start after
 * it (`WalkVerdict`): a server starts a walk per listing, and each one of a cold tree waited on the disk on
 * the event loop every session shares until its own window was spent (~13 ms a listing, stop 45's attack
 * pass); now the first does, and the rest start on the pool until this has passed.
 */
const POOLED_VERDICT_NS = 30_000_000_000n;

/**
 * Whether the walks of a thread start on libuv's pool: once one of them found the disk slow, those that start
 * within POOLED_VERDICT_NS of it do, then they try the thread again.
 */
export class WalkVerdict {
  #pooledAt: bigint | undefined;

  /** Whether a walk starting at `nowNs` starts on the pool. */
  pooledAt(nowNs: bigint): boolean {
    return this.#pooledAt !== undefined && nowNs - this.#pooledAt < POOLED_VERDICT_NS;
  }

  /** A walk found the disk slow at `nowNs`. */
  notePooled(nowNs: bigint): void {
    this.#pooledAt = nowNs;
  }
}

/** The verdict of the walks on this thread that read the real clock. */
const THREAD_VERDICT = new WalkVerdict();

/** lstat calls in flight at once on libuv's pool. */
const LSTATS_AT_ONCE = 16;

/**
 * Calls made on the walk's thread between two turns of its event loop (~0.1-0.3 ms): a sync's walk runs
 * while its session shakes hands, and with 1024 the client read the server's handshake message up to ~50 ms
 * late (session opened at 246 ms from the start against 303, medians of 6 runs of a 1,000-file tree).
 */
const CALLS_PER_TURN = 32;

/**
 * The file-system calls of a walk of a tree (the names of its directories, the `lstat` of their entries),
 * made the cheaper of two ways (issue 16): on the walk's own thread while the kernel answers from its
 * caches, and on libuv's pool once they had to wait. On a tree of 1,000 cached files here the
 * pool took 27-70 ms of wall time and as much CPU for the `lstat`s alone (a round trip between threads each,
 * on two cores), the walk's thread 3.5-9 ms; a sync of a tree changed a little waited on its walks. A call
 * that waits on the disk is another matter: there 16 `lstat`s in flight let the disk serve them together
 * (issue 14: one after the other they were most of a walk's time), so a window of slow calls sends the rest
 * of the walk to the pool. On its own thread the walk yields its event loop every CALLS_PER_TURN calls, so a
 * session beside it (a server's others, a client's handshake) is not held up.
 *
 * `now` (nanoseconds; injected by tests) is the clock that judges a call slow; `verdict` what the walks of
 * the thread found before (`WalkVerdict`: the thread's with the real clock, the walk's own with another).
 */
export class WalkFs {
  readonly #now: () => bigint;
  readonly #verdict: WalkVerdict;
  #pooled: boolean;
  /** Calls in the window so far (`WINDOW_CALLS`), and the nanoseconds they took. */
  #windowCalls = 0;
  #windowNs = 0n;
  #windowSlowCalls = 0;
  #sinceTurn = 0;

  constructor(now?: () => bigint, verdict?: WalkVerdict) {
    this.#now = now ?? (() => process.hrtime.bigint());
    // A test's clock judges alone: the thread's verdict is of the real clock's walks.
    this.#verdict = verdict ?? (now === undefined ? THREAD_VERDICT : new WalkVerdict());
    this.#pooled = this.#verdict.pooledAt(this.#now());
  }

  /** Whether the walk has gone to libuv's pool (a call was slow). */
  get pooled(): boolean {
    return this.#pooled;
  }

  /**
   * The names `dir` holds, read as their bytes (`directoryNames`, which says why), in the order the
   * directory gives them.
   */
  async *names(dir: string): AsyncGenerator<DirectoryName> {
    // node reads names as bytes with `encoding: 'buffer'`, though @types/node types only string encodings.
    const handle = await this.#call(
      () => opendirSync(dir, { encoding: 'buffer' as BufferEncoding }),
      () => opendir(dir, { encoding: 'buffer' as BufferEncoding }),
    );
    try {
      for (;;) {
        const dirent = await this.#call(
          () => handle.readSync(),
          () => handle.read(),
        );
        if (dirent === null) break;
        yield directoryName(dirent.name as unknown as Buffer);
      }
    } finally {
      handle.closeSync();
    }
  }

  /** The `lstat` of `path`. */
  lstat(path: string): Promise<Stats> {
    return this.#call(
      () => lstatSync(path),
      () => lstat(path),
    );
  }

  /** The `lstat` of every path, in order; a failure is returned as its error. */
  async lstatAll(paths: readonly string[]): Promise<Array<Stats | Error>> {
    const results = new Array<Stats | Error>(paths.length);
    let k = 0;
    for (; k < paths.length && !this.pooled; k++)
      results[k] = await this.lstat(paths[k]!).catch((err: unknown) => err as Error);
    let next = k;
    const lane = async (): Promise<void> => {
      while (next < paths.length) {
        const i = next++;
        results[i] = await lstat(paths[i]!).catch((err: unknown) => err as Error);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LSTATS_AT_ONCE, paths.length - k) }, lane));
    return results;
  }

  /** `onThread`, timed, until a window of calls was slow (see SLOW_CALLS_TO_POOL); `onPool` from then on. */
  async #call<T>(onThread: () => T, onPool: () => Promise<T>): Promise<T> {
    if (this.pooled) return onPool();
    if (++this.#sinceTurn >= CALLS_PER_TURN) {
      this.#sinceTurn = 0;
      await nextTurn();
    }
    const started = this.#now();
    try {
      return onThread();
    } finally {
      const ended = this.#now();
      const took = ended - started;
      this.#windowNs += took;
      if (took > SLOW_CALL_NS) this.#windowSlowCalls++;
      if (this.#windowNs > WINDOW_BUDGET_NS && this.#windowSlowCalls >= SLOW_CALLS_TO_POOL) {
        this.#pooled = true;
        this.#verdict.notePooled(ended);
      } else if (++this.#windowCalls === WINDOW_CALLS) {
        this.#windowCalls = 0;
        this.#windowNs = 0n;
        this.#windowSlowCalls = 0;
      }
    }
  }
}

/** A name as a directory holds it (its bytes), as `directoryNames` gives it. */
function directoryName(bytes: Buffer): DirectoryName {
  return { name: bytes.toString('utf8'), utf8: isUtf8(bytes) };
}
