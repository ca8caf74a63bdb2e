/**
 * Received file data that lives in a block of memory the receiving channel reuses (issue 14): the block goes
 * back to the channel only once every one of its file-data regions was released by whoever wrote it, exactly
 * once and whole. Reusing the blocks is what keeps the receiver from leaving a fresh buffer of garbage per
 * record (external memory that drives V8 into a mark-compact every few MiB).
 *
 * The rule that keeps this safe: a block is leased only while everything handed out of it is file data
 * (PUT_DATA, GET_DATA) whose one holder is the writer; the writer releases a region once its bytes are in the
 * file and it keeps no reference. A region released as a part, twice, or never simply keeps its block from
 * being reused (it is then garbage-collected like any buffer): nothing is reused before all of it is released.
 * The one contract on holders: a region's bytes are written once, from one view, then released.
 */
interface Lease {
  /** Start → length of each region handed out and still held. */
  readonly held: Map<number, number>;
  /** No more regions will be handed out: the block is free once `held` is empty. */
  sealed: boolean;
  readonly free: () => void;
}

const leases = new WeakMap<ArrayBufferLike, Lease>();

/**
 * Leases `memory`, whose regions are then handed out one by one (`holdReceived`); `free` runs once the lease
 * is sealed (`sealReceived`) and each region was released whole (`releaseReceived`).
 */
export function leaseReceived(memory: ArrayBufferLike, free: () => void): void {
  leases.set(memory, { held: new Map(), sealed: false, free });
}

/** The region `length` bytes from byte `start` of leased `memory` is handed out, to be released once written. */
export function holdReceived(memory: ArrayBufferLike, start: number, length: number): void {
  leases.get(memory)?.held.set(start, length);
}

/** No more regions of `memory` will be handed out; frees it at once if all were released already. */
export function sealReceived(memory: ArrayBufferLike): void {
  const lease = leases.get(memory);
  if (lease === undefined) return;
  lease.sealed = true;
  freeIfDone(memory, lease);
}

/**
 * The holder of `view` is done with it (its bytes are written and nothing keeps it). Frees its block once
 * the lease is sealed and every region was released. A view that is not exactly one region still held (a
 * part of one, one released already) ends the lease: that block is never reused.
 */
export function releaseReceived(view: Uint8Array): void {
  const lease = leases.get(view.buffer);
  if (lease === undefined) return;
  if (lease.held.get(view.byteOffset) !== view.byteLength) {
    leases.delete(view.buffer);
    return;
  }
  lease.held.delete(view.byteOffset);
  freeIfDone(view.buffer, lease);
}

function freeIfDone(memory: ArrayBufferLike, lease: Lease): void {
  if (!lease.sealed || lease.held.size > 0) return;
  leases.delete(memory);
  lease.free();
}
