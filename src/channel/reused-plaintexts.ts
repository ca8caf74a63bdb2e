import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PUT_DATA_HEADER_BYTES, holdReceived, leaseReceived, sealReceived } from '../protocol/index.js';
import { RECEIVE_BLOCK_BYTES, isDataRecord, reuseReceiveBlock, takeReceiveBlock } from './receive-blocks.js';

/** Plaintext bytes of file data kept between two young-generation collections (`#collectSometimes`). */
const BYTES_PER_MINOR_GC = 4 * 1024 * 1024;

let minorGc: (() => void) | undefined;

/**
 * A young-generation collection. node:crypto hands every opened record out in a fresh buffer (there is no
 * open-into), about 64 KiB of external memory that the event loop's few small allocations would let pile up
 * until V8's external-memory limit starts a full mark-compact of the whole heap. Copied out at once (below),
 * that garbage is dead young, and a scavenge frees it for a fraction of the cost: the receive pool's workers
 * do the same (`seal-worker.ts`). node:vm's `gc` is the only way to ask for one; the flag only adds `gc` to
 * contexts made after it, not to the main one.
 */
function collectYoung(): void {
  if (minorGc === undefined) {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options: { type: 'minor' }) => void;
    minorGc = () => gc({ type: 'minor' });
  }
  minorGc();
}

/**
 * Where the records opened on the event loop (no receive pool: `--threads 1`) keep their file data: each
 * PUT_DATA or GET_DATA plaintext is copied into a reused receive block, leased region by region exactly as
 * the pool's blocks are (`received-leases.ts`, `pooled-opening.ts`), and node:crypto's own output buffer is
 * dropped at once. Before, that buffer itself was handed to the writer and lived until written (up to ~9 MiB
 * behind: `BatchedWriter`), so it outlived any scavenge and only full mark-compacts freed it: measured the
 * largest avoidable cost of the one-thread receiving side. Other records are handed on as they are.
 */
export class ReusedPlaintexts {
  #block: ArrayBuffer | undefined;
  #view: Buffer | undefined;
  #used = 0;
  #sinceGc = 0;

  /** `plaintext` itself, or for file data a view of its copy in a leased block (`plaintext` is then garbage). */
  keep(plaintext: Buffer): Buffer {
    if (!isDataRecord(plaintext)) return plaintext;
    const length = plaintext.length;
    if (this.#view === undefined || this.#used + length > RECEIVE_BLOCK_BYTES) this.#next();
    const block = this.#block!;
    const at = this.#used;
    plaintext.copy(this.#view!, at);
    this.#used += length;
    holdReceived(block, at + PUT_DATA_HEADER_BYTES, length - PUT_DATA_HEADER_BYTES);
    this.#sinceGc += length;
    if (this.#sinceGc >= BYTES_PER_MINOR_GC) {
      this.#sinceGc = 0;
      collectYoung();
    }
    return Buffer.from(block, at, length);
  }

  /** No more records: the block being filled goes back once the writer released what it holds. Idempotent. */
  close(): void {
    const block = this.#block;
    this.#block = undefined;
    this.#view = undefined;
    if (block !== undefined) sealReceived(block);
  }

  #next(): void {
    this.close();
    // Not zeroed: only the bytes copied in are read or handed out.
    const block = takeReceiveBlock();
    leaseReceived(block, () => reuseReceiveBlock(block));
    this.#block = block;
    this.#view = Buffer.from(block);
    this.#used = 0;
  }
}
