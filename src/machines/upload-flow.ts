import { LEAF_BYTES } from '../protocol/index.js';

/**
 * The pace an upload's data keeps for its promise of disk to stand: within each stall timeout, what would
 * write the whole file within this time, and at least a leaf (FLOWING_MIN_BYTES). Any byte would do for an
 * honest upload, but a byte a minute per session would then hold the whole free disk, and a leaf a minute
 * still 40 GiB for 34 KiB/s over one key's 32 sessions; at this pace holding room costs what filling it within
 * a day would, in real bytes the key's quota counts and the disk shows. An honest upload slower than this (a
 * 10 GiB file at under 124 KB/s) keeps its data coming as before; its rest is promised again each time it
 * catches up, and only meets DISK_FULL then if others took the room meanwhile, as a resume would.
 */
export const FLOWING_HORIZON_MS = 24 * 3600 * 1000;
const FLOWING_MIN_BYTES = LEAF_BYTES;

/**
 * What an upload's data arriving means for its promise (`UploadFlow.arrived`): `flowing`, nothing to do;
 * `caught-up`, a stalled upload kept the pace again, so its rest is to be promised again (or refused);
 * `behind`, a stalled upload's bytes, which no promise covers and which must fit the reserve themselves.
 */
export type FlowStep = 'flowing' | 'caught-up' | 'behind';

/**
 * Whether a live upload's data flows, the one rule of how long an offer's promise of disk lasts while a
 * session holds its transfer (docs/SECURITY.md, "Findings of the stop 43 pass"): pure, the clock given with
 * every step. The storage limits (`StorageLimits`, src/server/) count a stalled upload's rest for nothing and
 * act on each step.
 */
export class UploadFlow {
  /** When the data last kept the pace. */
  #at: number;
  /** Bytes since then. */
  #bytesSince = 0;
  /** The server's own work for the upload under way (`busy`): no stall while it runs. */
  #busy = 0;
  readonly #stallMs: number;
  readonly #paceBytes: number;

  /** The flow of an upload promised `promisedBytes` at `now`, with a stall timeout of `stallMs` (0: none). */
  constructor(promisedBytes: number, stallMs: number, now: number) {
    this.#at = now;
    this.#stallMs = stallMs;
    this.#paceBytes = Math.max(FLOWING_MIN_BYTES, Math.ceil((promisedBytes * stallMs) / FLOWING_HORIZON_MS));
  }

  /** Whether the data has not kept the pace for the stall timeout, and the server is not working for it. */
  stalled(now: number): boolean {
    return this.#busy === 0 && this.#stallMs > 0 && now - this.#at > this.#stallMs;
  }

  /** `bytes` of the client's data arrived (PUT_DATA, PUT_COPY, a joined stream's) at `now`. */
  arrived(bytes: number, now: number): FlowStep {
    this.#bytesSince += bytes;
    const stalled = this.stalled(now);
    if (this.#bytesSince < this.#paceBytes) return stalled ? 'behind' : 'flowing';
    // A stalled upload that caught up gets a fresh flow with its new promise; until then it stays stalled.
    if (stalled) return 'caught-up';
    this.#kept(now);
    return 'flowing';
  }

  /**
   * The server signed `bytes` of a delta upload's old file and the client read them (PROTOCOL.md §5.15.2):
   * the client's data waits on the signing, so its pace is the upload's. Never revives a stalled flow: only
   * the client's data promises a stalled upload's rest again.
   */
  signed(bytes: number, now: number): void {
    if (this.stalled(now)) return;
    this.#bytesSince += bytes;
    if (this.#bytesSince >= this.#paceBytes) this.#kept(now);
  }

  /**
   * The server works for the upload on its own, for a bounded time (re-hashing what its partial holds
   * before PUT_ACCEPT): no stall until `done`, which starts the stall timeout afresh at its `now`. Not for
   * work the client paces (a signing waits on its reading: `signed`), which a client that stopped reading
   * would hold forever.
   */
  busy(): { done: (now: number) => void } {
    this.#busy++;
    return {
      done: (now) => {
        this.#busy--;
        this.#at = now;
      },
    };
  }

  #kept(now: number): void {
    this.#at = now;
    this.#bytesSince = 0;
  }
}
