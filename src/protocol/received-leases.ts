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
 *
 * A holder that keeps a region past the handling of its message (a writer gathering a batch) claims it
 * (`claimReceived`); a region nobody claimed by then is released by the receiver (`settleReceived`): the data
 * was copied or dropped. So every lease ends, whoever handled the message, and the memory a receiver counts
 * for its blocks comes back (docs/SECURITY.md, "Upload memory"). A receiver short of memory asks the
 * claimers to write what they gather at once (`wantReceived`), since the data that would fill their batch
 * is not read until it has memory again.
 */
/**
 * Who leased a piece of memory and wants to know its claimers (a receiver counting its data), so that it can
 * ask them to write at once without keeping each piece it leased: `claimed` when a holder claims a region
 * (true: write now), `unclaimed` when that region is released.
 */
export interface LeaseOwner {
  claimed(letGo: () => void): boolean;
  unclaimed(letGo: () => void): void;
}

interface Lease {
  /** Start → length of each region handed out and still held. */
  readonly held: Map<number, number>;
  /**
   * Start → what its claimer does to write it now (`wantReceived`), for each held region a holder claimed
   * (`claimReceived`): settled only by its release. Made at the first claim (a lease per received record
   * without threads: as few objects as can be).
   */
  claimed: Map<number, () => void> | undefined;
  /** The receiver wants the block back as soon as it can be (`wantReceived`). */
  wanted: boolean;
  /** No more regions will be handed out: the block is free once `held` is empty. */
  sealed: boolean;
  /** Runs once the lease ends: `reusable` when every region was released whole, false when one was not. */
  readonly free: (reusable: boolean) => void;
  /** Told of each claim and its end (`LeaseOwner`). */
  readonly owner: LeaseOwner | undefined;
}

const leases = new WeakMap<ArrayBufferLike, Lease>();

/**
 * Leases `memory`, whose regions are then handed out one by one (`holdReceived`); `free` runs once the lease
 * is sealed (`sealReceived`) and each region was released whole (`releaseReceived`).
 */
export function leaseReceived(
  memory: ArrayBufferLike,
  free: (reusable: boolean) => void,
  owner?: LeaseOwner,
): void {
  leases.set(memory, { held: new Map(), claimed: undefined, wanted: false, sealed: false, free, owner });
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
    unclaimAll(lease);
    lease.free(false);
    return;
  }
  lease.held.delete(view.byteOffset);
  const letGo = lease.claimed?.get(view.byteOffset);
  if (letGo !== undefined) {
    lease.claimed!.delete(view.byteOffset);
    lease.owner?.unclaimed(letGo);
  }
  freeIfDone(view.buffer, lease);
}

/**
 * The holder of `view` keeps it past the handling of its message and will release it (`releaseReceived`);
 * `letGo` writes it out at once when the receiver wants its block back. Returns true when it already does
 * (the holder should not wait to gather more). A view inside a region claims the region.
 */
export function claimReceived(view: Uint8Array, letGo: () => void): boolean {
  const lease = leases.get(view.buffer);
  if (lease === undefined) return false;
  const start = regionOf(lease, view);
  if (start === undefined) return false;
  const claimed = (lease.claimed ??= new Map());
  if (claimed.has(start)) return lease.wanted;
  claimed.set(start, letGo);
  return (lease.owner?.claimed(letGo) ?? false) || lease.wanted;
}

/**
 * The message that carried `view` was handled: unless a holder claimed its region (`claimReceived`), the
 * data was copied or dropped, and the region is released now.
 */
export function settleReceived(view: Uint8Array): void {
  const lease = leases.get(view.buffer);
  if (lease === undefined) return;
  const start = regionOf(lease, view);
  if (start === undefined || lease.claimed?.has(start) === true) return;
  lease.held.delete(start);
  freeIfDone(view.buffer, lease);
}

/**
 * The receiver wants `memory` back as soon as it can be: its claimers write what they gather now, and
 * claims made from now on are told so.
 */
export function wantReceived(memory: ArrayBufferLike): void {
  const lease = leases.get(memory);
  if (lease === undefined || lease.wanted) return;
  lease.wanted = true;
  // A claimer of several regions is asked once a region: writing its batch twice costs nothing.
  for (const letGo of lease.claimed?.values() ?? []) letGo();
}

/** The start of the held region of `lease` that holds all of `view`, if one does. */
function regionOf(lease: Lease, view: Uint8Array): number | undefined {
  const length = lease.held.get(view.byteOffset);
  if (length !== undefined) return length >= view.byteLength ? view.byteOffset : undefined;
  for (const [start, bytes] of lease.held) {
    if (view.byteOffset >= start && view.byteOffset + view.byteLength <= start + bytes) return start;
  }
  return undefined;
}

/** The lease ended with regions still claimed: their claims end too. */
function unclaimAll(lease: Lease): void {
  if (lease.owner === undefined || lease.claimed === undefined) return;
  for (const letGo of lease.claimed.values()) lease.owner.unclaimed(letGo);
  lease.claimed.clear();
}

function freeIfDone(memory: ArrayBufferLike, lease: Lease): void {
  if (!lease.sealed || lease.held.size > 0) return;
  leases.delete(memory);
  lease.free(true);
}
