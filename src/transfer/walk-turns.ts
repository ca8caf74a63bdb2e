/**
 * Wall time the walks on a thread may hold its event loop between two of its turns, all walks together, the
 * work their callers do between calls included (a listing's entries encoded and sealed). A server serves its
 * listings on the one event loop of every session (stop 45): counted in calls (1,024 a walk) a turn held
 * 10-30 ms of a cached tree and up to 200 ms of calls just under WalkFs's pool threshold, and each listing
 * in flight held its own, so four listings of 50,000 entries over four sessions held the loop up to 126 ms
 * and another session's round trip went from 0.9 to 14 ms (median). 32 calls a walk (c27b0be: a client's
 * handshake beside its sync's walk was read late) were 0.1-0.3 ms of cached calls, but 32 times any call's
 * time. A turn costs a few µs: a cached walk makes ~60 calls a turn.
 */
export const WALK_TURN_BUDGET_NS = 250_000n;

/**
 * The turns of the walks on one thread's event loop (`WalkFs` on its own thread): while the budget of a turn
 * (WALK_TURN_BUDGET_NS from its first call) lasts, any walk calls at once; then each waits, and at each turn
 * of the loop one walk, the one waiting longest, goes on with a new budget. So the loop turns at least every
 * budget however many walks are in flight, and none of them waits on the others for ever. The time is the
 * walks' own (`WalkFs` reads its clock at each call anyway, and a test's clock counts its readings).
 */
export class WalkTurns {
  readonly #budgetNs: bigint;
  /**
   * When the current turn's first call began (undefined: no call this turn yet), and the walk it is for (the
   * one waiting longest, as it resumes).
   */
  #startedAt: bigint | undefined;
  #holder: object | undefined;
  readonly #waiting: Array<{ walk: object; resume: () => void }> = [];
  #scheduled = false;

  constructor(budgetNs = WALK_TURN_BUDGET_NS) {
    this.#budgetNs = budgetNs;
  }

  /**
   * Undefined when `walk` may make its next call now (`nowNs`, its clock's); else a promise of the turn at
   * which it may (then it asks again). Another walk's turn is shared while its budget lasts, unless walks are
   * waiting (they were first).
   */
  enter(walk: object, nowNs: bigint): Promise<void> | undefined {
    const mine = this.#holder === walk || this.#waiting.length === 0;
    if (mine && this.#startedAt === undefined) {
      this.#startedAt = nowNs;
      this.#holder = walk;
      // The turn ends when the loop next runs its immediates: this one's, or the next turn's.
      this.#schedule();
      return undefined;
    }
    if (mine && nowNs - this.#startedAt! < this.#budgetNs) return undefined;
    return new Promise((resume) => {
      this.#waiting.push({ walk, resume });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#turn());
  }

  #turn(): void {
    this.#scheduled = false;
    this.#startedAt = undefined;
    this.#holder = undefined;
    const next = this.#waiting.shift();
    if (next === undefined) return;
    this.#holder = next.walk;
    this.#schedule();
    next.resume();
  }
}

/** The turns of the walks on this thread that read the real clock. */
export const THREAD_WALK_TURNS = new WalkTurns();
