import { FerryError } from '../errors/index.js';
import { ChunkSet, type ChunkRange } from '../protocol/index.js';
import { ChunkStates, type ChunkEntry, type ChunkState } from './chunk-states.js';
import { stepOf } from './transition.js';
import { VerifiedBatch } from './verified-batch.js';
import { StreamParts } from './stream-parts.js';
import { RECEIVER_TRANSITIONS, type ReceiverState } from './receiver-transitions.js';
import type {
  FailEffect,
  FinishEffect,
  MakeDurableEffect,
  ProgressEffect,
  WriteEffect,
} from './receiver-effects.js';

// The table PROTOCOL.md §6.2 prints, and the effects the machine returns, each in a file of its own so the
// rules below read without them; re-exported here, where the machine's users have always found them.
export { RECEIVER_TRANSITIONS, type ReceiverState } from './receiver-transitions.js';
export type {
  FailEffect,
  FinishEffect,
  MakeDurableEffect,
  ProgressEffect,
  ReceiverEffect,
  WriteEffect,
} from './receiver-effects.js';

/** Chunks verified but not yet durable are made durable once they add up to this many bytes (PROTOCOL.md §9.2). */
export const DURABLE_BATCH_BYTES = 16 * 1024 * 1024;

export interface ReceiverOptions {
  /** Chunks the caller re-hashed from the partial it reopened (§9.2): verified, durable and held. */
  readonly held?: readonly ChunkEntry[] | undefined;
  /** Verified bytes per make-durable batch; default DURABLE_BATCH_BYTES. */
  readonly durableBatchBytes?: number | undefined;
  /**
   * Check a joined stream's end digest against the hashes of the chunks it verified (downloads, §5.13.6).
   * An upload's joined PUT_END carries 32 zero bytes instead (§5.13.4), so uploads leave this off.
   */
  readonly checkPartDigests?: boolean | undefined;
  /** Chunks open at once; default MAX_OPEN_CHUNKS (§5.5.1). */
  readonly maxOpen?: number | undefined;
  /** Keep the verified chunks' leaf hashes (`leafHashes`), for a store of them (issue 16). */
  readonly keepLeafHashes?: boolean | undefined;
}

/**
 * The rules of receiving one transfer, with no file or socket (PROTOCOL.md §5.5, §5.6, §5.11.2, §5.13, §9.2):
 * the same for an upload on the server and a download on the client, whose messages are the same three
 * inputs (PUT_DATA/GET_DATA, PUT_CHUNK/GET_CHUNK, PUT_END/GET_END). It returns effects for its driver
 * (PartialTransfer) to apply in order over a storage port, and learns their results as inputs (`durable`,
 * `finished`). Which bytes may be trusted is ChunkStates' rule; this adds the transfer around it: the
 * durable batches, progress that never runs ahead of durability, the digest at the end, joined streams.
 *
 * `stream` is any value naming one sender of data (a session); a chunk travels whole on one stream.
 */
export class ReceiverMachine {
  readonly size: number;
  readonly chunkBytes: number;
  readonly #chunks: ChunkStates;
  /** Chunks verified and durable: what PUT_ACCEPT and GET_REQUEST may claim (§5.4, §9.2). */
  readonly #held: ChunkSet;
  /** A file of at most one chunk keeps no log and sends no PROGRESS: it resumes whole anyway (§9.2). */
  readonly #logged: boolean;
  /** The verified chunks not durable yet, made durable in batches (§9.2). */
  readonly #batch: VerifiedBatch;
  /** Per stream, the chunks it verified, for a download stripe's end digest (§5.13.6); only when checked. */
  readonly #parts: StreamParts | undefined;
  #state: ReceiverState = 'receiving';
  #heldBytes = 0;

  constructor(size: number, chunkBytes: number, options: ReceiverOptions = {}) {
    const held = options.held ?? [];
    this.size = size;
    this.chunkBytes = chunkBytes;
    this.#chunks = new ChunkStates(size, chunkBytes, {
      verified: held,
      ...(options.maxOpen === undefined ? {} : { maxOpen: options.maxOpen }),
      keepLeafHashes: options.keepLeafHashes === true,
    });
    this.#held = new ChunkSet(this.#chunks.count);
    for (const { index } of held) if (this.#held.add(index)) this.#heldBytes += this.#chunks.lengthOf(index);
    this.#logged = this.#chunks.count > 1;
    this.#batch = new VerifiedBatch(options.durableBatchBytes ?? DURABLE_BATCH_BYTES);
    this.#parts = options.checkPartDigests === true ? new StreamParts(this.#chunks.count) : undefined;
  }

  /**
   * Every leaf's hash, of the bytes the verified chunks were hashed from, once each is known (with
   * `keepLeafHashes`; chunks held from an earlier session count only when they are leaves); else undefined.
   */
  leafHashes(): ReturnType<ChunkStates['leafHashes']> {
    return this.#chunks.leafHashes();
  }

  get state(): ReceiverState {
    return this.#state;
  }

  /** The file's chunk count. */
  get count(): number {
    return this.#chunks.count;
  }

  /** Bytes of chunks that are verified and durable (what PROGRESS and a resume may count). */
  get verifiedBytes(): number {
    return this.#heldBytes;
  }

  /** The held chunks as ranges, for PUT_ACCEPT and a client's GET_REQUEST (§5.4, §5.11.1). */
  heldRanges(): ChunkRange[] {
    return this.#held.ranges();
  }

  /** SHA-256 over the held chunks' hashes in index order (§5.4); 32 zero bytes for none. */
  heldDigest(): Buffer {
    return this.#chunks.haveDigest(this.#held);
  }

  /** Where chunk `index` stands: unverified, open or verified (§5.5). */
  stateOf(index: number): ChunkState {
    return this.#chunks.stateOf(index);
  }

  /**
   * PUT_DATA / GET_DATA: `data` for file offset `offset` from `stream`. Checked and hashed here; the effect
   * carries the same buffer, which the driver writes unchanged (the bytes on disk are the bytes hashed).
   */
  data(stream: unknown, offset: number, data: Buffer): WriteEffect {
    this.#step('DATA');
    if (this.#state === 'closed') throw transferClosed();
    const afterPending = this.#chunks.accept(offset, data, stream);
    return { kind: 'write', offset, data, afterPending };
  }

  /**
   * PUT_CHUNK / GET_CHUNK: `stream` names the hash of chunk `index`, whose data it sent whole. Returns a
   * make-durable effect when the verified chunks not yet durable reach the batch size, a CHUNK_MISMATCH fail
   * (the transfer goes on; the chunk is unverified until received again whole), or nothing.
   */
  chunk(stream: unknown, index: number, hash: Buffer): MakeDurableEffect | FailEffect | undefined {
    this.#step('CHUNK');
    if (this.#state === 'closed') throw transferClosed();
    return this.#verify(stream, index, () => this.#chunks.complete(index, hash, stream));
  }

  /**
   * A whole chunk for `stream` whose bytes the driver already placed, as its leaf hashes taken from those
   * bytes, and the hash it must have (`ChunkStates.verifyWhole`): what `data` of its bytes then `chunk` do,
   * without the bytes (a delta's receiver accepting leaves of its old file placed where they lie, issue 16).
   */
  placedChunk(
    stream: unknown,
    index: number,
    leafHashes: readonly Buffer[],
    hash: Buffer,
  ): MakeDurableEffect | FailEffect | undefined {
    this.#step('DATA');
    if (this.#state === 'closed') throw transferClosed();
    this.#step('CHUNK');
    return this.#verify(stream, index, () => this.#chunks.verifyWhole(index, leafHashes, hash));
  }

  /**
   * Chunk `index` of `stream` closes (`verify`, the chunk states' check, returning the verified hash): a
   * mismatch is a CHUNK_MISMATCH fail; a verified chunk is the stream's, and logged in batches.
   */
  #verify(stream: unknown, index: number, verify: () => Buffer): MakeDurableEffect | FailEffect | undefined {
    let verified: Buffer;
    try {
      verified = verify();
    } catch (err) {
      if (err instanceof FerryError && err.code === 'CHUNK_MISMATCH') {
        return { kind: 'fail', code: 'CHUNK_MISMATCH', detail: `chunk ${index}`, discard: false };
      }
      throw err;
    }
    this.#parts?.verified(stream, index);
    if (!this.#logged) return undefined;
    return this.#batch.add({ index, hash: verified }, this.#chunks.lengthOf(index));
  }

  /**
   * The store confirmed a make-durable effect: its chunks are held now, and only now counted in PROGRESS
   * (§9.2). A transfer of one chunk never asks (§9.2: no log, no PROGRESS).
   */
  durable(entries: readonly ChunkEntry[]): ProgressEffect {
    this.#step('DURABLE');
    for (const { index } of entries)
      if (this.#held.add(index)) this.#heldBytes += this.#chunks.lengthOf(index);
    return { kind: 'progress', verifiedBytes: this.#heldBytes };
  }

  /** A stream stopped (its session closed or failed): the chunks it left open become unverified (§5.13.5). */
  streamEnded(stream: unknown): void {
    this.#step('STREAM_ENDED');
    this.#chunks.abandon(stream);
    this.#parts?.forget(stream);
  }

  /**
   * PUT_END / GET_END of a joined stream (§5.13.4, §5.13.6): its chunks were processed in order, so its part
   * is verified, unless it left a chunk half-sent: then that chunk goes back to unverified and the end is
   * MESSAGE_MALFORMED, so PART never claims a chunk the stream did not finish. With `checkPartDigests`,
   * `digest` must be the held digest over the chunks this stream verified (a download stripe's), else
   * DIGEST_MISMATCH (the partial and its verified chunks are kept).
   */
  partEnd(stream: unknown, digest: Buffer): FailEffect | undefined {
    this.#step('PART_END');
    if (this.#state === 'closed') throw transferClosed();
    const open = this.#chunks.firstOpenBy(stream);
    this.#chunks.abandon(stream);
    if (open !== undefined) {
      this.#parts?.forget(stream);
      throw new FerryError('MESSAGE_MALFORMED', `a stream ended with chunk ${open} not completed`);
    }
    if (!this.#parts) return undefined;
    const mine = this.#parts.take(stream);
    if (this.#chunks.haveDigest(mine).equals(digest)) return undefined;
    return {
      kind: 'fail',
      code: 'DIGEST_MISMATCH',
      detail: 'a stream ended with another digest than its chunks',
      discard: false,
    };
  }

  /**
   * PUT_END / GET_END of the file with the sender's `digest` (§5.6). Every chunk must be verified and none
   * open (MESSAGE_MALFORMED otherwise): the digest is computed only over hashes of the bytes held. Equal:
   * make the rest durable, then finish. Different: DIGEST_MISMATCH, and the partial is discarded, since its
   * chunks are from different versions of the source and would fail every resume the same way.
   */
  end(digest: Buffer): [MakeDurableEffect, FinishEffect] | [FinishEffect] | [FailEffect] {
    const ours = this.#chunks.fileDigest();
    if (!ours.equals(digest)) {
      this.#step('END_MISMATCH');
      this.#batch.drop();
      return [{ kind: 'fail', code: 'DIGEST_MISMATCH', detail: '', discard: true }];
    }
    this.#step('END');
    const rest = this.#batch.take();
    const finish: FinishEffect = { kind: 'finish', digest: ours };
    return rest ? [rest, finish] : [finish];
  }

  /** The driver placed the file (the finish effect succeeded). */
  finished(): void {
    this.#step('FINISHED');
  }

  /**
   * The transfer stops without finishing (CANCEL, ERROR, a failure, the session closing) or after a failed
   * finish: the verified chunks not yet durable are made durable for a later resume (§9.2). Idempotent.
   */
  close(): MakeDurableEffect | undefined {
    this.#step('CLOSE');
    return this.#batch.take();
  }

  #step(event: (typeof RECEIVER_TRANSITIONS)[number]['event']): void {
    this.#state = stepOf(RECEIVER_TRANSITIONS, this.#state, event).next;
  }
}

/** §5.13.5: once the transfer closed, a joined stream's further messages fail for its ref only. */
function transferClosed(): FerryError {
  return new FerryError('PATH_NOT_FOUND', 'the transfer this stream joined is closed');
}
