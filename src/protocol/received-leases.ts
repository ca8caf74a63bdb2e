/**
 * Received file data that lives in a block of memory the receiving channel reuses (issue 14's receive pool):
 * the block goes back to the channel only once every one of its file-data regions was released by whoever
 * wrote it, exactly once and whole. Reusing the blocks is what keeps the receiver from leaving a fresh buffer
 * of garbage per record (external memory that drives V8 into a mark-compact every few MiB).
 *
 * The rule that keeps this safe: a block is leased only when everything handed out of it is file data
 * (PUT_DATA, GET_DATA) whose one holder is the writer; the writer releases a region once its bytes are in the
 * file and it keeps no reference. A region released as a part, twice, or never simply keeps its block from
 * being reused (it is then garbage-collected like any buffer): nothing is reused before all of it is released.
 * The one contract on holders: a region's bytes are written once, from one view, then released.
 */
interface Lease {
  /** Start → length of each region still held. */
  readonly held: Map<number, number>;
  readonly free: () => void;
}

const leases = new WeakMap<ArrayBufferLike, Lease>();

/**
 * Leases `memory`: `regions` (byte position and length in `memory`, none overlapping) are handed out, and
 * `free` runs once each of them was released whole (`releaseReceived`). No regions: nothing to release, and
 * `free` never runs (a block that held anything else is never reused).
 */
export function leaseReceived(
  memory: ArrayBufferLike,
  regions: ReadonlyArray<readonly [start: number, length: number]>,
  free: () => void,
): void {
  if (regions.length === 0) return;
  leases.set(memory, { held: new Map(regions), free });
}

/**
 * The holder of `view` is done with it (its bytes are written and nothing keeps it). Frees its block once
 * every region was released. A view that is not exactly one region still held (a part of one, one released
 * already) ends the lease: that block is never reused.
 */
export function releaseReceived(view: Uint8Array): void {
  const lease = leases.get(view.buffer);
  if (lease === undefined) return;
  if (lease.held.get(view.byteOffset) !== view.byteLength) {
    // Not a region as handed out (a part of one, or released already): this block is never reused.
    leases.delete(view.buffer);
    return;
  }
  lease.held.delete(view.byteOffset);
  if (lease.held.size > 0) return;
  leases.delete(view.buffer);
  lease.free();
}
