import { AEAD_TAG_BYTES, type NonceRange } from '../crypto/index.js';
import { FerryError, toFerryError } from '../errors/index.js';
import {
  MAX_RECORD_BYTES,
  MESSAGE_TYPE_CODES,
  PUT_DATA_HEADER_BYTES,
  forgetLeafHashes,
  leaseReceived,
  noteLeafHash,
} from '../protocol/index.js';
import type { OpenResult, ParallelOpener } from '../protocol/index.js';

/** Records per block handed to a worker: about 1 MiB, as on the sending side (`RECORDS_PER_BLOCK`). */
const BLOCK_RECORDS = 16;
const BLOCK_BYTES = BLOCK_RECORDS * MAX_RECORD_BYTES;
/**
 * Records shorter than this are opened on the event loop at once, in arrival order: control messages, and
 * every REKEY (17 bytes), so the key of the records after a REKEY is known before their nonces are reserved
 * (PROTOCOL.md §4.3). File data travels in full records and goes to the workers.
 */
export const MIN_POOLED_RECORD_BYTES = 1024;
/** Blocks with workers per thread: one being opened, one waiting, so no worker idles between blocks. */
const BLOCKS_PER_THREAD = 2;
/**
 * Blocks kept for reuse, by every channel of the process: what the workers hold and what the writer still has
 * queued (up to ~9 MiB: `BatchedWriter`) at 2 threads, so a stream past its first few MiB allocates none, and
 * a session after another starts with blocks made. More are dropped as they come free.
 */
const MAX_SPARE_BLOCKS = 16;
/**
 * Free blocks, shared by every channel: ones whose every record was file data, released by the writer once
 * written (`leaseReceived`). A block that held anything else is never reused: its views may be kept. Not
 * zeroed: a worker reads only the bytes copied in, and only records it opened are handed out.
 */
const spareBlocks: ArrayBuffer[] = [];
const PUT_DATA = MESSAGE_TYPE_CODES.PUT_DATA;
const GET_DATA = MESSAGE_TYPE_CODES.GET_DATA;

/** Where opened records go, in arrival order. */
export interface OpenedSink {
  deliver(plaintext: Buffer): void;
  /** The record at this point of the stream failed (or a worker did): nothing after it is delivered. */
  fail(err: FerryError): void;
  /** Called after results were delivered, so the reader may resume a paused socket. */
  progressed(): void;
}

/** The receive cipher's two ways to open: reserve nonces for the workers, or open one record here. */
export interface ReceiveCipher {
  reserveReceive(count: number): NonceRange[];
  open(record: Buffer): Buffer;
}

interface BlockEntry {
  kind: 'block';
  /** The ciphertexts, copied in as they arrive; moved to a worker once posted. */
  block: ArrayBuffer;
  view: Buffer;
  offsets: number[];
  lengths: number[];
  used: number;
  /** Reserved when the block closes (full, or a record opened here follows it): always in stream order. */
  ranges: NonceRange[] | undefined;
  posted: boolean;
  result: OpenResult | undefined;
  error: FerryError | undefined;
}

type Entry = BlockEntry | { kind: 'plain'; plaintext: Buffer } | { kind: 'fail'; error: FerryError };

/** Thrown out of `add` to stop the framing once a record opened here failed (its failure is queued in order). */
export class OpeningStopped extends Error {
  constructor() {
    super('opening stopped');
  }
}

/**
 * The receiving side of issue 14's pipeline, on the event loop: records are gathered into blocks (one copy,
 * out of the socket's read buffer, which is reused or is the socket's own), each block gets its records'
 * nonces in arrival order and goes to a worker that opens and hashes it (`ParallelOpener`); results come back
 * in any order and are delivered strictly in arrival order. A record that fails, in a worker or here, is
 * delivered as a failure after the records before it, and nothing after it is delivered (later results are
 * zeroed as they come back). Memory is bounded: at most BLOCKS_PER_THREAD blocks per thread with workers plus
 * the block being filled; `bytes` tells the reader when to pause the socket.
 */
export class PooledOpening {
  readonly #opener: ParallelOpener;
  readonly #cipher: ReceiveCipher;
  readonly #sink: OpenedSink;
  readonly #queue: Entry[] = [];
  /** The block being filled: the last entry of the queue, not yet reserved nor posted. */
  #current: BlockEntry | undefined;
  #inFlight = 0;
  #stopped = false;
  /** Ciphertext bytes gathered or with workers, not yet delivered. */
  bytes = 0;

  constructor(opener: ParallelOpener, cipher: ReceiveCipher, sink: OpenedSink) {
    this.#opener = opener;
    this.#cipher = cipher;
    this.#sink = sink;
  }

  /** True while records are gathered or with workers, not yet delivered. */
  get pending(): boolean {
    return this.#queue.length > 0;
  }

  /** Bytes past which the reader should pause its socket. */
  get highWater(): number {
    return (this.#opener.threads * BLOCKS_PER_THREAD + 1) * BLOCK_BYTES;
  }

  /** Takes one record (a view valid only during the call), in arrival order. */
  add(record: Buffer): void {
    if (this.#stopped) throw new OpeningStopped();
    if (record.length < MIN_POOLED_RECORD_BYTES) {
      this.#close();
      let plaintext: Buffer;
      try {
        plaintext = this.#cipher.open(record);
      } catch (err) {
        this.#queue.push({ kind: 'fail', error: toFerryError(err) });
        this.#pump();
        throw new OpeningStopped();
      }
      // The opened record is node:crypto's fresh output buffer, not a view of the read: kept as is.
      this.#queue.push({ kind: 'plain', plaintext });
      this.#pump();
      return;
    }
    let current = this.#current;
    if (
      current !== undefined &&
      (current.offsets.length === BLOCK_RECORDS || current.used + record.length > BLOCK_BYTES)
    ) {
      this.#close();
      current = undefined;
    }
    if (current === undefined) {
      const block = spareBlocks.pop() ?? Buffer.allocUnsafeSlow(BLOCK_BYTES).buffer;
      current = {
        kind: 'block',
        block,
        view: Buffer.from(block),
        offsets: [],
        lengths: [],
        used: 0,
        ranges: undefined,
        posted: false,
        result: undefined,
        error: undefined,
      };
      this.#current = current;
      this.#queue.push(current);
    }
    record.copy(current.view, current.used);
    current.offsets.push(current.used);
    current.lengths.push(record.length);
    current.used += record.length;
    this.bytes += record.length;
  }

  /**
   * Posts closed blocks while fewer than BLOCKS_PER_THREAD per thread are with workers, and the block being
   * filled too when the workers are short of work (`#postPartFull`). Called after each socket read and each
   * result.
   */
  dispatch(): void {
    if (this.#stopped) return;
    for (const entry of this.#queue) {
      if (entry.kind !== 'block' || entry.posted) continue;
      if (entry === this.#current && !this.#postPartFull(entry)) return;
      if (this.#inFlight >= this.#opener.threads * BLOCKS_PER_THREAD) return;
      if (entry === this.#current) this.#close();
      this.#post(entry);
    }
  }

  /** Stops: nothing more is delivered; blocks still with workers are zeroed when they come back. */
  stop(): void {
    this.#stopped = true;
    this.#current = undefined;
    for (const entry of this.#queue) if (entry.kind === 'block' && !entry.posted) entry.view.fill(0);
    this.#queue.length = 0;
  }

  /**
   * Whether the block being filled goes now rather than when full: always when no worker has anything (a
   * slow stream is not held back), and at half full when a worker is idle. Posting a record or two at a time
   * while the workers are busy would cost a message and a block per record (measured: most of the event
   * loop's time at 2 threads).
   */
  #postPartFull(current: BlockEntry): boolean {
    if (this.#inFlight === 0) return true;
    return this.#inFlight < this.#opener.threads && current.offsets.length >= BLOCK_RECORDS / 2;
  }

  #close(): void {
    const current = this.#current;
    if (current === undefined) return;
    this.#current = undefined;
    current.ranges = this.#cipher.reserveReceive(current.offsets.length);
  }

  #post(entry: BlockEntry): void {
    entry.posted = true;
    this.#inFlight += 1;
    const firstNonce = entry.ranges![0]!.nonce;
    const ranges = entry.ranges!;
    this.#opener
      .open({ block: entry.block, offsets: entry.offsets, lengths: entry.lengths, ranges })
      .then(
        (result) => {
          entry.result = result;
          if (result.opened < entry.offsets.length) {
            entry.error = new FerryError(
              'DECRYPT_FAILED',
              `nonce ${nonceOf(ranges, result.opened, firstNonce)}`,
            );
          }
        },
        (err: unknown) => {
          entry.error = toFerryError(err);
        },
      )
      .finally(() => {
        this.#inFlight -= 1;
        if (this.#stopped) {
          // Opened in place: plaintext nobody will read must not linger.
          if (entry.result) new Uint8Array(entry.result.block).fill(0);
          return;
        }
        this.#pump();
        this.dispatch();
        this.#sink.progressed();
      })
      .catch(() => undefined);
  }

  /** Delivers what is ready at the head of the queue, in order. */
  #pump(): void {
    while (!this.#stopped && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (head.kind === 'plain') {
        this.#queue.shift();
        this.#sink.deliver(head.plaintext);
        continue;
      }
      if (head.kind === 'fail') {
        this.stop();
        this.#sink.fail(head.error);
        return;
      }
      if (head.result === undefined && head.error === undefined) return;
      this.#queue.shift();
      this.bytes -= head.used;
      const result = head.result;
      if (result !== undefined) this.#deliverBlock(head, result);
      if (head.error !== undefined) {
        this.stop();
        this.#sink.fail(head.error);
        return;
      }
    }
  }

  /**
   * Hands out the records a worker opened in place, as views of the block (no copy, no buffer per record).
   * When every record of the block is file data, the block is leased (`leaseReceived`): it comes back for
   * reuse once the writer released each record's data, written. Otherwise it is left to the garbage collector.
   */
  #deliverBlock(entry: BlockEntry, result: OpenResult): void {
    const block = result.block;
    const hashes = Buffer.from(result.leafHashes);
    result.leafAt.forEach((at, j) => noteLeafHash(block, at, hashes.subarray(32 * j, 32 * j + 32)));
    const views: Buffer[] = [];
    const regions: Array<[number, number]> = [];
    let onlyData = result.opened === entry.offsets.length;
    for (let i = 0; i < result.opened; i++) {
      const start = entry.offsets[i]!;
      const view = Buffer.from(block, start, entry.lengths[i]! - AEAD_TAG_BYTES);
      if (onlyData && (view[0] === PUT_DATA || view[0] === GET_DATA) && view.length > PUT_DATA_HEADER_BYTES)
        regions.push([start + PUT_DATA_HEADER_BYTES, view.length - PUT_DATA_HEADER_BYTES]);
      else onlyData = false;
      views.push(view);
    }
    if (onlyData) leaseReceived(block, regions, () => reuseBlock(block));
    for (const view of views) this.#sink.deliver(view);
  }
}

/** A leased block whose data was all written: kept for the next records, up to MAX_SPARE_BLOCKS. */
function reuseBlock(block: ArrayBuffer): void {
  if (spareBlocks.length >= MAX_SPARE_BLOCKS) return;
  // Its leaf hashes were taken as its records were hashed; any left over are for bytes about to change.
  forgetLeafHashes(block);
  spareBlocks.push(block);
}

/** The nonce of the `index`th record of `ranges`. */
function nonceOf(ranges: readonly NonceRange[], index: number, fallback: number): number {
  let left = index;
  for (const range of ranges) {
    if (left < range.count) return range.nonce + left;
    left -= range.count;
  }
  return fallback;
}
