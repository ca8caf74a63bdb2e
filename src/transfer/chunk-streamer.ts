import { ChunkHasher, MAX_MESSAGE_BYTES, chunkLength, type ChunkHashes } from '../protocol/index.js';
import { FerryError } from '../errors/index.js';
import type { ChunkSource } from './chunk-source.js';
import { collectYoungGarbage } from './young-garbage.js';

/** Where a streamer puts its messages: the sending half of a session, for one transfer. */
export interface ChunkSink {
  /** Bytes of the data message header (PUT_DATA and GET_DATA: 13). */
  readonly headerBytes: number;
  /** Writes the data message header for file offset `fileOffset` at `target[0..headerBytes)`. */
  writeDataHeader(target: Buffer, fileOffset: number): number;
  /** Seals and sends one data message; `plaintext` may be reused once this resolves. */
  sendData(plaintext: Buffer): Promise<void>;
  /**
   * Seals and sends a block's data messages at once, in order, in one gathered write (the hot path: one
   * system call and one backpressure wait per block instead of per record); the buffers may be reused once
   * this resolves. Without it, `sendData` is called for each.
   */
  sendDataBlock?(plaintexts: readonly Buffer[]): Promise<void>;
  /** Sends the chunk's closing message with its hash. */
  sendChunk(index: number, chunkHash: Buffer): Promise<void>;
  /**
   * The plaintext of the chunk's closing message (PUT_CHUNK, GET_CHUNK) carrying `chunkHash`. Given with
   * `sendDataBlock`, a closing message goes in the same gathered write as the data before it, and
   * `chunkSent` is called once it is written, in place of `sendChunk`: chunks smaller than a block (a
   * delta's leaves, 64 KiB) then cost no write of their own each.
   */
  chunkMessage?(index: number, chunkHash: Buffer): Buffer;
  /** With `chunkMessage`: called once a chunk's closing message is written. */
  chunkSent?(index: number, chunkHash: Buffer): void | Promise<void>;
}

export interface StreamChunksOptions {
  chunkBytes: number;
  /**
   * The chunks to send, in order: a plain list, or a cursor shared by several streams (parallel streams,
   * PROTOCOL.md §5.13), each taking the next chunk when it is ready for one.
   */
  chunks: Iterator<number>;
  /** Receives the hash of every chunk sent. */
  hashes: ChunkHashes;
  sink: ChunkSink;
  signal?: AbortSignal | undefined;
  /** Called after each chunk is sent. */
  onChunk?: (index: number, chunkHash: Buffer, bytes: number) => void | Promise<void>;
}

/** Records read with one `readv` per block: 16 records, about 1 MiB of file data. */
export const RECORDS_PER_BLOCK = 16;

/** Blocks (about 16 MiB) sent between two minor collections of their garbage (`collectYoungGarbage`). */
const BLOCKS_PER_GC = 16;

/** A run of consecutive records of one chunk, read together. */
export interface Block {
  readonly chunk: number;
  readonly offset: number;
  readonly lengths: readonly number[];
  /** True when the block ends its chunk. */
  readonly last: boolean;
}

/**
 * Sends the chunks `chunks` yields, in that order, as data messages that never cross a chunk
 * boundary, each chunk followed by its hash (PROTOCOL.md §5.5). Returns the number of file bytes sent.
 *
 * File bytes are read with one `readv` per read of up to RECORDS_PER_BLOCK records (`planReads`: a block, or
 * consecutive small chunks' blocks together) straight into two reused buffers laid out as [header | data]
 * record slots, so no byte is copied before encryption and memory stays flat whatever the file size; the
 * next read is under way while the current one is hashed, sealed and sent.
 */
export async function streamChunks(source: ChunkSource, options: StreamChunksOptions): Promise<number> {
  const { chunkBytes, chunks, hashes, sink } = options;
  const dataPerRecord = MAX_MESSAGE_BYTES - sink.headerBytes;
  // Block buffers sized to the file: a 4 KiB file must not cost 2 MiB of allocation (many small files).
  const slots = Math.max(1, Math.min(RECORDS_PER_BLOCK, Math.ceil(source.size / dataPerRecord)));
  const slotBytes = Math.min(MAX_MESSAGE_BYTES, sink.headerBytes + source.size);
  const buffers = [Buffer.allocUnsafe(slots * slotBytes), Buffer.allocUnsafe(slots * slotBytes)];
  // The closing messages go with the data in one gathered write when the sink can say them as plaintexts;
  // only then are small chunks also read together (a sink that sends each chunk on its own keeps its pace).
  const gathered = sink.sendDataBlock !== undefined && sink.chunkMessage !== undefined;
  const reads = planReads(
    planBlocks(source.size, chunkBytes, chunks, dataPerRecord),
    chunkBytes,
    gathered ? slots : 0,
  );
  const read = (blocks: readonly Block[], buffer: Buffer): Promise<readonly Block[]> => {
    const views: Buffer[] = [];
    for (const block of blocks) {
      for (const length of block.lengths) {
        const at = views.length * slotBytes + sink.headerBytes;
        views.push(buffer.subarray(at, at + length));
      }
    }
    const reading = source.readvExactly(views, blocks[0]!.offset).then(() => blocks);
    reading.catch(() => undefined); // awaited below; an abort in between must not leave it unhandled
    return reading;
  };
  let sent = 0;
  let hasher: ChunkHasher | undefined;
  let which = 0;
  let blocksSinceGc = 0;
  const first = reads.next();
  let pending = first.done ? undefined : read(first.value, buffers[0]!);
  while (pending) {
    const blocks = await pending;
    const buffer = buffers[which]!;
    which = 1 - which;
    const following = reads.next();
    pending = following.done ? undefined : read(following.value, buffers[which]!);
    if (options.signal?.aborted) throw new FerryError('ABORTED');
    let slot = 0;
    /** Plaintexts of a gathered write not yet written, and the chunks whose closing message is among them. */
    let out: Buffer[] = [];
    let closed: Array<{ index: number; chunkHash: Buffer }> = [];
    const flush = async (): Promise<void> => {
      if (out.length === 0) return;
      const plaintexts = out;
      out = [];
      await sink.sendDataBlock!(plaintexts);
      // Once the block is written, its sealed outputs are garbage: collected young, before they pile up.
      if (++blocksSinceGc === BLOCKS_PER_GC) {
        blocksSinceGc = 0;
        collectYoungGarbage();
      }
      const written = closed;
      closed = [];
      for (const { index, chunkHash } of written) await chunkDone(index, chunkHash);
    };
    const chunkDone = async (index: number, chunkHash: Buffer): Promise<void> => {
      if (gathered) await sink.chunkSent?.(index, chunkHash);
      const bytes = chunkLength(index, source.size, chunkBytes);
      sent += bytes;
      await options.onChunk?.(index, chunkHash, bytes);
    };
    for (const block of blocks) {
      hasher ??= new ChunkHasher();
      let offset = block.offset;
      for (const length of block.lengths) {
        const record = buffer.subarray(slot * slotBytes, slot * slotBytes + sink.headerBytes + length);
        slot++;
        sink.writeDataHeader(record, offset);
        hasher.update(record.subarray(sink.headerBytes));
        // A sink without blocks takes each record right after its header (a patched one keeps the offset).
        if (sink.sendDataBlock) out.push(record);
        else await sink.sendData(record);
        offset += length;
      }
      if (!block.last) continue;
      const chunkHash = hasher.digest();
      hasher = undefined;
      hashes.set(block.chunk, chunkHash);
      if (gathered) {
        out.push(sink.chunkMessage!(block.chunk, chunkHash));
        closed.push({ index: block.chunk, chunkHash });
        continue;
      }
      await flush();
      await sink.sendChunk(block.chunk, chunkHash);
      await chunkDone(block.chunk, chunkHash);
    }
    await flush();
  }
  return sent;
}

/**
 * The blocks of `blocks` as reads of up to `maxRecords` records: a block alone, or whole chunks smaller than a
 * block together, as many as fit and lie one after the other in the file (a delta's leaves of 64 KiB went
 * one `readv`, one pass through libuv's pool and two writes each, issue 16). Only a read of whole chunks
 * looks at the next block before it is yielded, so a stream of chunks of a block or more takes chunks from a
 * shared cursor (§5.13.3) no earlier than before.
 */
export function* planReads(
  blocks: Iterator<Block>,
  chunkBytes: number,
  maxRecords: number,
): Generator<Block[]> {
  const wholeChunk = (block: Block): boolean => block.last && block.offset === block.chunk * chunkBytes;
  /** A block taken to see whether it fits the read before it, and did not: the next read's first. */
  let carried: Block | undefined;
  for (;;) {
    let head = carried;
    carried = undefined;
    if (head === undefined) {
      const next = blocks.next();
      if (next.done) return;
      head = next.value;
    }
    const read = [head];
    let records = head.lengths.length;
    let end = head.offset + sumOf(head.lengths);
    while (wholeChunk(head) && records < maxRecords) {
      const next = blocks.next();
      if (next.done) break;
      const block = next.value;
      if (!wholeChunk(block) || block.offset !== end || records + block.lengths.length > maxRecords) {
        carried = block;
        break;
      }
      read.push(block);
      records += block.lengths.length;
      end += sumOf(block.lengths);
    }
    yield read;
  }
}

function sumOf(lengths: readonly number[]): number {
  let sum = 0;
  for (const length of lengths) sum += length;
  return sum;
}

/** The blocks to read, in order: each chunk taken from `chunks`, cut into record-sized pieces, 16 to a block. */
export function* planBlocks(
  size: number,
  chunkBytes: number,
  chunks: Iterator<number>,
  dataPerRecord: number,
): Generator<Block> {
  for (let next = chunks.next(); !next.done; next = chunks.next()) {
    const chunk = next.value;
    const end = chunk * chunkBytes + chunkLength(chunk, size, chunkBytes);
    let offset = chunk * chunkBytes;
    while (offset < end) {
      const lengths: number[] = [];
      let at = offset;
      while (lengths.length < RECORDS_PER_BLOCK && at < end) {
        const length = Math.min(dataPerRecord, end - at);
        lengths.push(length);
        at += length;
      }
      yield { chunk, offset, lengths, last: at === end };
      offset = at;
    }
  }
}

/**
 * Hashes the chunks `chunks` of `source` (or takes them from `cached`) into `hashes`, in the chunk size of
 * `hashes`: what PROTOCOL.md §5.4's held digest and §7.2's file digest are then computed over.
 */
export async function hashChunks(
  source: ChunkSource,
  chunks: Iterable<number>,
  hashes: ChunkHashes,
  cached?: (index: number) => Uint8Array | undefined,
): Promise<void> {
  const scratch = Buffer.allocUnsafe(Math.min(hashes.chunkBytes, 1024 * 1024));
  for (const index of chunks) {
    hashes.set(index, cached?.(index) ?? (await source.chunkHash(index, hashes.chunkBytes, scratch)));
  }
}
