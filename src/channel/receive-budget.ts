import {
  PUT_DATA_HEADER_BYTES,
  holdReceived,
  leaseReceived,
  sealReceived,
  wantReceived,
  type LeaseOwner,
} from '../protocol/index.js';
import { isDataRecord } from './receive-blocks.js';

/**
 * Memory is counted in pages written: a block of one short record costs a page, not the block's 2 MiB,
 * which stay untouched (and unbacked) until it is reused.
 */
const PAGE_BYTES = 4096;

/**
 * Where the bytes of the data a stream received and has not written yet come from (a server's share per
 * client and in total, `PartHold`): `grow` takes bytes now or says no, never waiting; `shrink` gives some
 * back; `release` all.
 */
export interface ReceiveMemory {
  grow(bytes: number): boolean;
  shrink(bytes: number): void;
  release(): void;
}

/** What one piece of received memory (a receive block, an opened record) was counted for. */
export interface ReceivedCount {
  /** Bytes counted: `paid` from the memory, `unpaid` taken while it had none. */
  paid: number;
  unpaid: number;
  /** Given back (its data written or handed on, or the stream stopped). */
  returned: boolean;
}

/** A fresh count, nothing counted yet. */
export function noneCounted(): ReceivedCount {
  return { paid: 0, unpaid: 0, returned: false };
}

/**
 * One stream's received data counted against its memory (docs/SECURITY.md "Upload memory"): each piece from
 * the record that first writes it until its data is written (its lease ends: `leaseReceived`) or handed to a
 * message's handler. Data that finds no memory left is taken all the same (it was read), and `starved` tells
 * the reader to stop reading until this stream's own pieces come back, so a stream over its share holds at
 * most one socket read more; the writers of its data are asked to write what they gather at once
 * (`wantReceived`), since what would fill their batches is not read until then. One policy for both ways a
 * channel opens records (on the event loop, `FramedSocket`, or on workers, `PooledOpening`).
 */
export class ReceiveBudget implements LeaseOwner {
  readonly #memory: ReceiveMemory;
  /** Called when the stream stops being starved: its reader may read again. */
  readonly #fed: () => void;
  #unpaid = 0;
  #stopped = false;
  /** Receive blocks whose data went to its writers, not back yet: wanted back once starved. */
  readonly #leased = new Set<ArrayBufferLike>();
  /**
   * The writers holding data of records it opened (`countOpened`), each with how many regions it claimed and
   * has not released: asked to write at once when starved. A writer, not a record, per entry: keeping each
   * record's memory in a set as long as it is held cost a 1 GiB upload's server ~0.4 CPU s (a dozen more
   * full garbage collections, 'external memory pressure', as each record's buffer outlived young GCs).
   */
  readonly #claimers = new Map<() => void, number>();

  constructor(memory: ReceiveMemory, fed: () => void) {
    this.#memory = memory;
    this.#fed = fed;
  }

  /** True while the stream holds bytes its memory could not give: read nothing until they come back. */
  get starved(): boolean {
    return this.#unpaid > 0;
  }

  /** Counts `count`'s piece as `usedBytes` written (rounded up to pages), the bytes more since the last call. */
  charge(count: ReceivedCount, usedBytes: number): void {
    if (this.#stopped) return;
    const bytes = Math.ceil(usedBytes / PAGE_BYTES) * PAGE_BYTES - count.paid - count.unpaid;
    if (bytes <= 0) return;
    if (this.#memory.grow(bytes)) {
      count.paid += bytes;
      return;
    }
    const wasStarved = this.starved;
    count.unpaid += bytes;
    this.#unpaid += bytes;
    if (wasStarved) return;
    for (const memory of this.#leased) wantReceived(memory);
    for (const letGo of this.#claimers.keys()) letGo();
  }

  /** A writer claimed a region of a record it opened (`LeaseOwner`): to write at once while starved. */
  claimed(letGo: () => void): boolean {
    if (this.#stopped) return false;
    this.#claimers.set(letGo, (this.#claimers.get(letGo) ?? 0) + 1);
    return this.starved;
  }

  /** That region was released (`LeaseOwner`). */
  unclaimed(letGo: () => void): void {
    const claims = this.#claimers.get(letGo);
    if (claims === undefined) return;
    if (claims > 1) this.#claimers.set(letGo, claims - 1);
    else this.#claimers.delete(letGo);
  }

  /**
   * Counts a record opened on the event loop that carries file data until its writer has written it (or its
   * handler dropped or copied it: `settleReceived`), its own buffer leased with its data as the one region,
   * as a receive block is. Returns the record to hand on: itself, or, when it is a view of memory shared
   * with others (node's pool slab under 4 KiB, which cannot be leased whole), a copy of its own, so a
   * client's many tiny records are counted too.
   */
  countOpened(opened: Buffer): Buffer {
    if (this.#stopped || !isDataRecord(opened)) return opened;
    const own =
      opened.byteOffset === 0 && opened.buffer.byteLength === opened.length
        ? opened
        : Buffer.from(new Uint8Array(opened).buffer);
    const memory = own.buffer;
    const count = noneCounted();
    this.charge(count, own.length);
    // Its writer is told to write at once while starved through its claim (`claimed`), not kept here.
    leaseReceived(memory, () => this.giveBack(count), this);
    holdReceived(memory, PUT_DATA_HEADER_BYTES, own.length - PUT_DATA_HEADER_BYTES);
    sealReceived(memory);
    return own;
  }

  /** `memory`'s data went to its writers (leased): wanted back at once if the stream is starved. */
  leased(memory: ArrayBufferLike): void {
    if (this.#stopped) return;
    this.#leased.add(memory);
    if (this.starved) wantReceived(memory);
  }

  /** Gives back what `count` holds, once; `memory` (leased) is no longer wanted. */
  giveBack(count: ReceivedCount, memory?: ArrayBufferLike): void {
    if (count.returned) return;
    count.returned = true;
    if (memory !== undefined) this.#leased.delete(memory);
    if (this.#stopped) return;
    const wasStarved = this.starved;
    this.#memory.shrink(count.paid);
    this.#unpaid -= count.unpaid;
    if (wasStarved && !this.starved) this.#fed();
  }

  /** The stream ended: everything goes back at once, whatever comes back later. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unpaid = 0;
    this.#leased.clear();
    this.#claimers.clear();
    this.#memory.release();
  }
}
