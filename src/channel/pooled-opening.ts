import { AEAD_TAG_BYTES, type NonceRange } from '../crypto/index.js';
import { FerryError, toFerryError } from '../errors/index.js';
import {
  PUT_DATA_HEADER_BYTES,
  copyBytes,
  holdReceived,
  landOffThread,
  leaseReceived,
  noteLeafHash,
  sealReceived,
} from '../protocol/index.js';
import {
  RECEIVE_BLOCK_BYTES,
  RECEIVE_BLOCK_RECORDS,
  isDataRecord,
  reuseReceiveBlock,
  takeReceiveBlock,
} from './receive-blocks.js';
import type { OffThreadWriter, OpenResult, ParallelOpener } from '../protocol/index.js';
import { noneCounted, type ReceiveBudget, type ReceivedCount } from './receive-budget.js';

/** Records per block handed to a worker: 32 full ones and a chunk's short last one (`RECEIVE_BLOCK_RECORDS`). */
const BLOCK_RECORDS = RECEIVE_BLOCK_RECORDS;
const BLOCK_BYTES = RECEIVE_BLOCK_BYTES;
/**
 * Records shorter than this are opened on the event loop at once, in arrival order: control messages, and
 * every REKEY (17 bytes), so the key of the records after a REKEY is known before their nonces are reserved
 * (PROTOCOL.md §4.3). File data travels in full records and goes to the workers.
 */
export const MIN_POOLED_RECORD_BYTES = 1024;
/** Blocks with workers per thread: one being opened, one waiting, so no worker idles between blocks. */
const BLOCKS_PER_THREAD = 2;

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
  /** The ciphertexts, copied in as they arrive; lent to a worker once posted (shared memory). */
  block: SharedArrayBuffer;
  view: Buffer;
  offsets: number[];
  lengths: number[];
  used: number;
  /** Reserved when the block closes (full, or a record opened here follows it): always in stream order. */
  ranges: NonceRange[] | undefined;
  posted: boolean;
  result: OpenResult | undefined;
  error: FerryError | undefined;
  /** Its pages written, counted against the stream's memory until delivered or, leased, written. */
  count: ReceivedCount;
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
 *
 * With a `ReceiveBudget` (a server's upload memory, docs/SECURITY.md "Upload memory"), every block is
 * counted from the record that first writes it until its data is written (its lease ends) or, for a block
 * that held anything but file data, until delivered: received and not yet written, through the workers, the
 * queue and the writer's batches.
 */
export class PooledOpening {
  readonly #opener: ParallelOpener;
  /** The opener's threads also write the file data out of its blocks, if it can (`landOffThread`). */
  readonly #writer: OffThreadWriter | undefined;
  readonly #cipher: ReceiveCipher;
  readonly #sink: OpenedSink;
  readonly #queue: Entry[] = [];
  /** The block being filled: the last entry of the queue, not yet reserved nor posted. */
  #current: BlockEntry | undefined;
  #inFlight = 0;
  #stopped = false;
  /** A record is being assembled in the block being filled (`place`), not yet added. */
  #placing = false;
  /** Ciphertext bytes gathered or with workers, not yet delivered. */
  bytes = 0;
  readonly #budget: ReceiveBudget | undefined;

  constructor(
    opener: ParallelOpener & Partial<OffThreadWriter>,
    cipher: ReceiveCipher,
    sink: OpenedSink,
    budget?: ReceiveBudget,
  ) {
    this.#opener = opener;
    this.#writer = typeof opener.writev === 'function' ? (opener as OffThreadWriter) : undefined;
    this.#cipher = cipher;
    this.#sink = sink;
    this.#budget = budget;
  }

  /** True while the stream's budget is spent: the reader reads nothing until its own blocks come back. */
  get starved(): boolean {
    return this.#budget?.starved ?? false;
  }

  /** True while records are gathered or with workers, not yet delivered. */
  get pending(): boolean {
    return this.#queue.length > 0;
  }

  /** Bytes past which the reader should pause its socket. */
  get highWater(): number {
    return (this.#opener.threads * BLOCKS_PER_THREAD + 1) * BLOCK_BYTES;
  }

  /**
   * Where a record of `length` bytes split across socket reads is to be assembled: its place in the block
   * being filled, so `add` then finds it there and copies nothing (the framing would otherwise assemble it in
   * its own buffer, to be copied into the block). Undefined for a record opened here (a short one). The block
   * is not posted until the record is added.
   */
  place(length: number): Buffer | undefined {
    // Starved, the socket is not read until the block being filled has gone to the workers and its data
    // was written: a record assembled in it would hold it back (`dispatch`) until the rest of the record is
    // read. The framing assembles it in its own buffer instead.
    if (this.#stopped || this.starved || length < MIN_POOLED_RECORD_BYTES) return undefined;
    const current = this.#blockWithRoom(length);
    this.#placing = true;
    return current.view.subarray(current.used, current.used + length);
  }

  /** Takes one record (a view valid only during the call, or the place `place` gave), in arrival order. */
  add(record: Buffer): void {
    if (this.#stopped) throw new OpeningStopped();
    this.#placing = false;
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
      // The opened record is node:crypto's fresh output buffer, not a view of the read: kept as is (file
      // data in it counted until written, as the blocks' is).
      this.#queue.push({ kind: 'plain', plaintext: this.#budget?.countOpened(plaintext) ?? plaintext });
      this.#pump();
      return;
    }
    const current = this.#blockWithRoom(record.length);
    // Assembled in place (`place`): already where it goes.
    if (record.buffer !== current.block || record.byteOffset !== current.used) {
      copyBytes(record, current.view, current.used);
    }
    current.offsets.push(current.used);
    current.lengths.push(record.length);
    current.used += record.length;
    this.bytes += record.length;
    this.#budget?.charge(current.count, current.used);
  }

  /** The block being filled, closed and replaced first if a record of `length` bytes does not fit. */
  #blockWithRoom(length: number): BlockEntry {
    const current = this.#current;
    if (
      current !== undefined &&
      current.offsets.length < BLOCK_RECORDS &&
      current.used + length <= BLOCK_BYTES
    ) {
      return current;
    }
    this.#close();
    // A few blocks are reused for the whole stream, once the writer released their data (`#pump`). Not
    // zeroed: only the bytes copied in are read.
    const block = takeReceiveBlock();
    const next: BlockEntry = {
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
      count: noneCounted(),
    };
    this.#current = next;
    this.#queue.push(next);
    return next;
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
      // A record being assembled in it (`place`) holds the block being filled back.
      if (entry === this.#current && (this.#placing || !this.#postPartFull(entry))) return;
      if (this.#inFlight >= this.#opener.threads * BLOCKS_PER_THREAD) return;
      if (entry === this.#current) this.#close();
      this.#post(entry);
    }
  }

  /**
   * The stream ended (its peer's end of stream): a record being assembled in the block being filled (`place`)
   * will never be whole, and held that block back (`dispatch`), so the records before it were never delivered,
   * and `pending` stayed true: the reader, waiting for them before it hands out the end, waited forever with
   * its socket closed (a server session outliving its client, stop 41). The block goes to the workers with the
   * records it holds whole, or leaves the queue if it holds none; what is with the workers comes back as ever.
   */
  endOfStream(): void {
    if (this.#stopped) return;
    this.#placing = false;
    const current = this.#current;
    if (current !== undefined && current.offsets.length === 0) {
      this.#current = undefined;
      this.#queue.splice(this.#queue.indexOf(current), 1);
      this.#budget?.giveBack(current.count);
      reuseReceiveBlock(current.block);
    }
    this.dispatch();
  }

  /** Stops: nothing more is delivered; blocks still with workers are zeroed when they come back. */
  stop(): void {
    this.#budget?.stop();
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
          if (entry.result) new Uint8Array(entry.block).fill(0);
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
      else this.#budget?.giveBack(head.count);
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
    const block = entry.block;
    const hashes = Buffer.from(result.leafHashes);
    result.leafAt.forEach((at, j) => noteLeafHash(block, at, hashes.subarray(32 * j, 32 * j + 32)));
    const views: Buffer[] = [];
    const regions: Array<[number, number]> = [];
    let onlyData = result.opened === entry.offsets.length;
    for (let i = 0; i < result.opened; i++) {
      const start = entry.offsets[i]!;
      const view = Buffer.from(block, start, entry.lengths[i]! - AEAD_TAG_BYTES);
      if (onlyData && isDataRecord(view))
        regions.push([start + PUT_DATA_HEADER_BYTES, view.length - PUT_DATA_HEADER_BYTES]);
      else onlyData = false;
      views.push(view);
    }
    if (onlyData) {
      // Counted until its data is written (or dropped: `settleReceived`), its lease's end.
      leaseReceived(block, (reusable) => {
        if (reusable) reuseReceiveBlock(block);
        this.#budget?.giveBack(entry.count, block);
      });
      // Its data may land from the workers' side: the write then never touches the event loop (issue 14).
      if (this.#writer !== undefined) landOffThread(block, this.#writer);
      for (const [start, length] of regions) holdReceived(block, start, length);
      sealReceived(block);
      this.#budget?.leased(block);
    }
    for (const view of views) this.#sink.deliver(view);
    // Anything else in it is the messages' handlers' now, bounded as messages are.
    if (!onlyData) this.#budget?.giveBack(entry.count);
  }
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
