import { LEAF_BYTES } from '../protocol/index.js';

/**
 * Where one leaf of a new file stands while a delta's receiver places its old file's leaves where they lie
 * (a same-size delta: the upload's server while it signs, `delta-old-file.ts`; the download's client while
 * it scans, issue 16), and arrived data (PUT_DATA, a copy from elsewhere, GET_DATA) writes into the same
 * partial at the same time:
 * - `empty`: nothing written there by placing (nothing known of its bytes);
 * - `placing`: a placing write of the old leaf is in flight;
 * - `placed`: the old leaf, exactly the bytes hashed, has landed there and nothing wrote over it since;
 * - `arrived`: arrived data wrote (or is writing) there: placing never writes there again;
 * - `taken`: the placed bytes were counted once (handed to the partial's rules as received data, whose chunk
 *   check verifies them): never counted again.
 */
export type LeafPlacingState = 'empty' | 'placing' | 'placed' | 'arrived' | 'taken';

const STATES: readonly LeafPlacingState[] = ['empty', 'placing', 'placed', 'arrived', 'taken'];
const EMPTY = 0;
const PLACING = 1;
const PLACED = 2;
const ARRIVED = 3;
const TAKEN = 4;
/**
 * Or'ed into a leaf's state while a placing write over it is in flight: kept when the leaf `arrive`s
 * meanwhile, since every arrival there, not only the first, must wait for that write to land.
 */
const WRITING = 0x10;
const STATE = 0x0f;

/** Leaves `[first, first + count)`, contiguous. */
export interface LeafRun {
  readonly first: number;
  readonly count: number;
}

/**
 * The per-leaf rule of placing while arrived data writes into the same partial (issue 16: the server's
 * same-size delta upload waited for its whole signing before it read a message, since a write racing the
 * placing could land under a leaf already verified). Pure: the caller does the writes and tells it what
 * landed. The rules, each a test in test/machines/leaf-placing.test.ts:
 * - Arrived data wins. Placing writes only leaves that are `empty` (`place`); data arriving over a leaf
 *   makes it `arrived` at once, so a placing write still in flight is not marked `placed` when it lands, and
 *   `arrive` says whether one is in flight there: the caller's write must then wait until it landed, so the
 *   arrived bytes are the ones that stay.
 * - A leaf counts only from bytes known to be there: `take` hands out only `placed` leaves (landed, nothing
 *   written over since), each once (`taken`). A placing write that failed leaves its leaves `empty`.
 * - Once `stop`ped (placing is over, or its source can no longer be trusted), nothing is placed or taken.
 * Counting a taken leaf is still the partial's rules' job: the caller hands it over with the hash taken of
 * the bytes placed, and its chunk is checked against the sender's chunk hash like any received data.
 */
export class LeafPlacing {
  readonly #states: Uint8Array;
  #stopped = false;

  /** The placing of a new file of `size` bytes, every leaf `empty`. */
  constructor(size: number) {
    this.#states = new Uint8Array(Math.ceil(size / LEAF_BYTES));
  }

  /** Leaves in the file. */
  get leafCount(): number {
    return this.#states.length;
  }

  /** Whether placing has stopped (`stop`). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Where leaf `index` stands. */
  stateOf(index: number): LeafPlacingState {
    this.#check(index, 1);
    return STATES[this.#states[index]! & STATE]!;
  }

  /**
   * The old file's leaves `[first, first + count)` are read and could be written where they lie: the runs of
   * them that are `empty`, now `placing`, for the caller to write (each then `landed`). None once stopped.
   */
  place(first: number, count: number): LeafRun[] {
    this.#check(first, count);
    const runs: LeafRun[] = [];
    if (this.#stopped) return runs;
    const states = this.#states;
    for (let leaf = first; leaf < first + count;) {
      if (states[leaf] !== EMPTY) {
        leaf++;
        continue;
      }
      const start = leaf;
      while (leaf < first + count && states[leaf] === EMPTY) states[leaf++] = PLACING | WRITING;
      runs.push({ first: start, count: leaf - start });
    }
    return runs;
  }

  /**
   * A placing write of `run` (from `place`) has landed (`ok`) or failed: its leaves still `placing` become
   * `placed`, or `empty` when it failed or placing stopped meanwhile; those that arrived meanwhile stay
   * `arrived`.
   */
  landed(run: LeafRun, ok: boolean): void {
    this.#check(run.first, run.count);
    const states = this.#states;
    const next = ok && !this.#stopped ? PLACED : EMPTY;
    for (let leaf = run.first; leaf < run.first + run.count; leaf++) {
      if (states[leaf] === (PLACING | WRITING)) states[leaf] = next;
      else states[leaf]! &= STATE;
    }
  }

  /**
   * Data arrives at bytes `[offset, offset + length)` of the new file: every leaf it touches is `arrived`
   * from now on. True when a placing write is in flight over one of them (even one that arrived before):
   * the caller's write must wait until that write landed (`landed`), or the old bytes could land over the
   * arrived ones.
   */
  arrive(offset: number, length: number): boolean {
    if (length <= 0) return false;
    const first = Math.floor(offset / LEAF_BYTES);
    const end = Math.ceil((offset + length) / LEAF_BYTES);
    this.#check(first, end - first);
    const states = this.#states;
    let inFlight = false;
    for (let leaf = first; leaf < end; leaf++) {
      const writing = states[leaf]! & WRITING;
      if (writing) inFlight = true;
      states[leaf] = ARRIVED | writing;
    }
    return inFlight;
  }

  /** Whether a placing write is in flight over one of the leaves `[first, first + count)`. */
  inFlight(first: number, count: number): boolean {
    this.#check(first, count);
    for (let leaf = first; leaf < first + count; leaf++) if (this.#states[leaf]! & WRITING) return true;
    return false;
  }

  /**
   * The old file's leaves from `first` are wanted where they lie (a copy in place): how many of them, at most
   * `max`, are `placed` in a row from `first`, now `taken`: the caller counts those with the hashes of the
   * bytes placed instead of writing them. 0 once stopped.
   */
  take(first: number, max: number): number {
    this.#check(first, 0);
    if (this.#stopped) return 0;
    const states = this.#states;
    let leaf = first;
    while (leaf < first + max && leaf < states.length && states[leaf] === PLACED) states[leaf++] = TAKEN;
    return leaf - first;
  }

  /** The leaves `placed` and not taken, in order (for a caller that takes them all at once). */
  placedLeaves(): number[] {
    const found: number[] = [];
    const states = this.#states;
    for (let leaf = states.indexOf(PLACED); leaf >= 0; leaf = states.indexOf(PLACED, leaf + 1))
      found.push(leaf);
    return found;
  }

  /** Placing stops: nothing is placed or taken from now on; writes in flight land as `empty`. Idempotent. */
  stop(): void {
    this.#stopped = true;
  }

  #check(first: number, count: number): void {
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0)
      throw new RangeError(`leaves ${first} + ${count} are not a run`);
    if (first + count > this.#states.length || (count === 0 && first > this.#states.length))
      throw new RangeError(`leaves ${first} + ${count} past the file's ${this.#states.length}`);
  }
}
