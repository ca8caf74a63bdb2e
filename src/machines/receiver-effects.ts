import type { ChunkEntry } from './chunk-states.js';

/** Write `data` (the very buffer that was hashed) at `offset`; after every earlier write when `afterPending`. */
export interface WriteEffect {
  readonly kind: 'write';
  readonly offset: number;
  readonly data: Buffer;
  readonly afterPending: boolean;
}

/** Make the written data durable, then durably record `entries` as verified (data first, then the log: §9.2). */
export interface MakeDurableEffect {
  readonly kind: 'make-durable';
  readonly entries: readonly ChunkEntry[];
}

/** Report `verifiedBytes` verified and durable (PROGRESS, §5.7); never more than the store confirmed. */
export interface ProgressEffect {
  readonly kind: 'progress';
  readonly verifiedBytes: number;
}

/** Every chunk is verified from the bytes held and the digest matched: make durable and place the file (§9.3). */
export interface FinishEffect {
  readonly kind: 'finish';
  readonly digest: Buffer;
}

/** The transfer (or a joined stream's part of it) failed; `discard` drops the partial, else it is kept. */
export interface FailEffect {
  readonly kind: 'fail';
  readonly code: 'CHUNK_MISMATCH' | 'DIGEST_MISMATCH';
  readonly detail: string;
  readonly discard: boolean;
}

/** Every effect the receiver machine returns, for its driver (PartialTransfer) to apply in order. */
export type ReceiverEffect = WriteEffect | MakeDurableEffect | ProgressEffect | FinishEffect | FailEffect;
