import type { NonceRange } from '../crypto/index.js';

/**
 * One block of received records to open off the event loop (issue 14's receive pool): record i's sealed body
 * (`ciphertext || tag`, PROTOCOL.md §4.1) is `block[offsets[i] .. offsets[i] + lengths[i])`, its nonce the
 * next of `ranges` (in order; the counts add up to the record count).
 */
export interface OpenJob {
  /** Shared memory (the receive blocks): opened in place, seen at once by the thread that posted it. */
  block: ArrayBuffer | SharedArrayBuffer;
  offsets: number[];
  lengths: number[];
  ranges: NonceRange[];
}

/**
 * The opened records of a job, in place: for every i below `opened`, record i's plaintext is
 * `block[offsets[i] .. offsets[i] + lengths[i] - AEAD_TAG_BYTES)`, over its ciphertext (so no buffer per record
 * is made on the receiving thread); record `opened`, if there is one, failed authentication, and nothing of it
 * or after it is plaintext. `leafAt[j]` is the byte of `block` where a leaf of file data starts whose RFC 6962
 * leaf hash is `leafHashes[32j .. 32j+32)` (computed by the worker from exactly those bytes; `leaf-hints.ts`).
 */
export interface OpenResult {
  /** The job's block moved back; undefined when it is shared memory, which never moved. */
  block?: ArrayBuffer | undefined;
  opened: number;
  leafAt: number[];
  leafHashes: ArrayBuffer;
}

/** Opens blocks of records on other threads (the transfer layer's `SealPool`); results may come in any order. */
export interface ParallelOpener {
  readonly threads: number;
  /**
   * Moves `job.block` to a worker (unusable here until the result gives it back) or, shared, lends it (not
   * touched here until the result); zeroes the ranges' keys once posted.
   */
  open(job: OpenJob): Promise<OpenResult>;
}
