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
 * File bytes are read with one `readv` per block straight into two reused block buffers laid out as
 * [header | data] record slots, so no byte is copied before encryption and memory stays flat whatever the
 * file size; the next block is read while the current one is hashed, sealed and sent.
 */
export async function streamChunks(source: ChunkSource, options: StreamChunksOptions): Promise<number> {
  const { chunkBytes, chunks, hashes, sink } = options;
  const dataPerRecord = MAX_MESSAGE_BYTES - sink.headerBytes;
  // Block buffers sized to the file: a 4 KiB file must not cost 2 MiB of allocation (many small files).
  const slots = Math.max(1, Math.min(RECORDS_PER_BLOCK, Math.ceil(source.size / dataPerRecord)));
  const slotBytes = Math.min(MAX_MESSAGE_BYTES, sink.headerBytes + source.size);
  const buffers = [Buffer.allocUnsafe(slots * slotBytes), Buffer.allocUnsafe(slots * slotBytes)];
  const blocks = planBlocks(source.size, chunkBytes, chunks, dataPerRecord);
  const read = (block: Block, buffer: Buffer): Promise<Block> => {
    const views = block.lengths.map((length, i) =>
      buffer.subarray(i * slotBytes + sink.headerBytes, i * slotBytes + sink.headerBytes + length),
    );
    const reading = source.readvExactly(views, block.offset).then(() => block);
    reading.catch(() => undefined); // awaited below; an abort in between must not leave it unhandled
    return reading;
  };
  let sent = 0;
  let hasher: ChunkHasher | undefined;
  let which = 0;
  let blocksSinceGc = 0;
  const first = blocks.next();
  let pending = first.done ? undefined : read(first.value, buffers[0]!);
  while (pending) {
    const block = await pending;
    const buffer = buffers[which]!;
    which = 1 - which;
    const following = blocks.next();
    pending = following.done ? undefined : read(following.value, buffers[which]!);
    if (options.signal?.aborted) throw new FerryError('ABORTED');
    hasher ??= new ChunkHasher();
    let offset = block.offset;
    if (sink.sendDataBlock) {
      const slots: Buffer[] = [];
      for (let i = 0; i < block.lengths.length; i++) {
        const length = block.lengths[i]!;
        const slot = buffer.subarray(i * slotBytes, i * slotBytes + sink.headerBytes + length);
        sink.writeDataHeader(slot, offset);
        hasher.update(slot.subarray(sink.headerBytes));
        slots.push(slot);
        offset += length;
      }
      await sink.sendDataBlock(slots);
      // Once the block is written, its sealed outputs are garbage: collected young, before they pile up.
      if (++blocksSinceGc === BLOCKS_PER_GC) {
        blocksSinceGc = 0;
        collectYoungGarbage();
      }
    } else {
      for (let i = 0; i < block.lengths.length; i++) {
        const length = block.lengths[i]!;
        const slot = buffer.subarray(i * slotBytes, i * slotBytes + sink.headerBytes + length);
        sink.writeDataHeader(slot, offset);
        hasher.update(slot.subarray(sink.headerBytes));
        await sink.sendData(slot);
        offset += length;
      }
    }
    if (block.last) {
      const chunkHash = hasher.digest();
      hasher = undefined;
      hashes.set(block.chunk, chunkHash);
      await sink.sendChunk(block.chunk, chunkHash);
      const bytes = chunkLength(block.chunk, source.size, chunkBytes);
      sent += bytes;
      await options.onChunk?.(block.chunk, chunkHash, bytes);
    }
  }
  return sent;
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
