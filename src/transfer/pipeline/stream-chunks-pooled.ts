import type { NonceRange } from '../../crypto/index.js';
import { FerryError } from '../../errors/index.js';
import { MAX_MESSAGE_BYTES, chunkLength, type ChunkHashes } from '../../protocol/index.js';
import { RECORDS_PER_BLOCK, planBlocks, type Block } from '../chunk-streamer.js';
import type { ChunkSource } from '../chunk-source.js';
import { sealOne, sealedCapacity, type ReadFailure, type SealResult } from './seal-block.js';
import type { SealPool } from './seal-pool.js';

/** Blocks (about 1 MiB each) in flight per worker: enough to keep each busy while the next is read. */
const BLOCKS_PER_THREAD = 3;
/**
 * Blocks of one chunk counted at most when sizing the window for chunk affinity (`inFlightBlocks`): an
 * 8 MiB chunk's. Larger chunks get no deeper window, so memory stays bounded whatever `--chunk-size` (each
 * block in flight holds about 2 MiB: its plaintext and its sealed records).
 */
const MAX_CHUNK_BLOCKS_COUNTED = 9;

/**
 * How many blocks may be in flight. A chunk's blocks all go to one worker (its hash is one running state) and
 * results are written in order, so while the head chunk's worker works through it, the other workers get
 * only the blocks the window holds past that chunk: with 3 blocks per thread at 2 threads (6) and a default
 * 4 MiB chunk of 5 blocks, the second worker held one block at a time and idled between (a model of the
 * pipeline with blocks of equal cost: workers busy 89 % of the time; with a chunk plus a block per worker
 * and one being read, 8, 99.6 %; 8 MiB chunks: 84 % with 6, 99.7 % with 12).
 */
export function inFlightBlocks(threads: number, chunkBlocks: number): number {
  return Math.max(threads * BLOCKS_PER_THREAD, Math.min(chunkBlocks, MAX_CHUNK_BLOCKS_COUNTED) + threads + 1);
}

/**
 * The sending half of one transfer with hashing and sealing on a `SealPool`: the event loop reads, assigns
 * nonces and writes; the workers hash and seal. Everything sealed for this stream goes through it, in nonce
 * order (PROTOCOL.md §4.2: the nonce is implicit, so the records must reach the peer in that order).
 */
export interface PooledChunkSink {
  readonly pool: SealPool;
  /** Bytes of the data message header (PUT_DATA and GET_DATA: 13). */
  readonly headerBytes: number;
  /** Writes the data message header for file offset `fileOffset` at `target[0..headerBytes)`. */
  writeDataHeader(target: Buffer, fileOffset: number): number;
  /** Reserves the nonces of the next `count` records (`SessionCipher.reserveSend`). */
  reserve(count: number): NonceRange[];
  /**
   * Writes framed sealed records (PROTOCOL.md §4.1), in nonce order; `framed` may be reused once this
   * resolves, so a socket sink waits until the socket has taken the bytes (`write` callback).
   */
  writeFramed(framed: Buffer, records: number): Promise<void>;
  /** The plaintext of the chunk's closing message (PUT_CHUNK, GET_CHUNK) carrying `chunkHash`. */
  chunkMessage(index: number, chunkHash: Buffer): Buffer;
  /**
   * Called when reserved records cannot be written any more (a worker failed): the session cannot go on,
   * since the peer would wait for those nonces.
   */
  abandon?(err: unknown): void;
  /** Called once a chunk's closing message is written. */
  chunkSent?(index: number, chunkHash: Buffer, bytes: number): void | Promise<void>;
  /**
   * Where the memory of blocks beyond the stream's first comes from (a server's share per client and in
   * total, `PartHold`): `grow` takes a block's bytes now or says no, never waiting; `release` gives all back
   * once no job holds them. Without it a stream keeps its whole window (a client's own uploads).
   */
  readonly memory?: { grow(bytes: number): boolean; release(): void } | undefined;
}

interface InFlight {
  block: Block;
  sealing: Promise<SealResult>;
  /** The nonce reserved for the chunk's closing message, right after the block's records. */
  closing: NonceRange | undefined;
}

/**
 * A chunk hash no chunk has (SHA-256 gives all zeros for no known input): sent in place of the hash of a
 * chunk whose bytes were not all read, so the peer finds it CHUNK_MISMATCH and never counts it.
 */
const NO_CHUNK_HASH = Buffer.alloc(32);

/**
 * Sends the chunks `chunks` yields, in order, like `streamChunks`, with the hashing and the AES-GCM on the
 * pool's workers. Nonces are reserved on the event loop as blocks are dispatched (a chunk's closing message
 * gets the nonce after its last block), results are written strictly in dispatch order, and at most
 * `inFlightBlocks` blocks are in flight, so memory stays flat and the socket's backpressure
 * (`writeSealed` waiting) stops the reading. Returns the number of file bytes sent.
 *
 * A source that lends its descriptor (a local file) is read by the workers themselves, each its own block
 * (issue 14: the event loop and libuv's pool then never touch the data); others are read here. A worker's
 * read happens after the block's nonces were reserved, so a file that shrank meanwhile cannot stop the
 * records: they are sealed over zeros and sent, every chunk closed from then on carries NO_CHUNK_HASH (the
 * peer counts none of them), nothing more is read, and the stream fails with SOURCE_CHANGED, as a short
 * read on the event loop does. The session goes on.
 */
export async function streamChunksPooled(
  source: ChunkSource,
  options: {
    chunkBytes: number;
    chunks: Iterator<number>;
    hashes: ChunkHashes;
    sink: PooledChunkSink;
    signal?: AbortSignal | undefined;
  },
): Promise<number> {
  const { chunkBytes, chunks, hashes, sink } = options;
  const dataPerRecord = MAX_MESSAGE_BYTES - sink.headerBytes;
  const slots = Math.max(1, Math.min(RECORDS_PER_BLOCK, Math.ceil(source.size / dataPerRecord)));
  const slotBytes = Math.min(MAX_MESSAGE_BYTES, sink.headerBytes + source.size);
  const chunkBlocks = Math.ceil(
    Math.ceil(Math.min(chunkBytes, source.size) / dataPerRecord) / RECORDS_PER_BLOCK,
  );
  const depth = inFlightBlocks(sink.pool.threads, chunkBlocks);
  const free: Array<{ block: ArrayBuffer; out: ArrayBuffer }> = [];
  let allocated = 0;
  const blockBytes = slots * slotBytes + sealedCapacity(slots, slotBytes);
  const takeExtra = (): boolean => sink.memory?.grow(blockBytes) ?? true;
  const queue: InFlight[] = [];
  // A chunk's hasher in the worker is named by an id unique in the pool (transfers share a pool).
  const hashIds = new Map<number, number>();
  let sent = 0;
  // The first short read of a worker (`SealJob.read`): from then on nothing is read and no chunk counts.
  let readFailure: Error | undefined;

  const writeHead = async (): Promise<void> => {
    const head = queue.shift()!;
    const result = await head.sealing;
    if (result.readFailed !== undefined) readFailure ??= readError(result.readFailed, source.size);
    await sink.writeFramed(Buffer.from(result.out, 0, result.outBytes), head.block.lengths.length);
    free.push({ block: result.block, out: result.out });
    if (head.closing !== undefined) {
      if (readFailure !== undefined) {
        await sink.writeFramed(sealOne(head.closing, sink.chunkMessage(head.block.chunk, NO_CHUNK_HASH)), 1);
        return;
      }
      const chunkHash = result.chunkHash!;
      hashes.set(head.block.chunk, chunkHash);
      await sink.writeFramed(sealOne(head.closing, sink.chunkMessage(head.block.chunk, chunkHash)), 1);
      const bytes = chunkLength(head.block.chunk, source.size, chunkBytes);
      sent += bytes;
      await sink.chunkSent?.(head.block.chunk, chunkHash, bytes);
    }
  };

  // Lent until every job that may read through it has settled (the `finally` below).
  const fd = source.lendFd?.();
  try {
    for (const block of planBlocks(source.size, chunkBytes, chunks, dataPerRecord)) {
      if (options.signal?.aborted) throw new FerryError('ABORTED');
      if (readFailure !== undefined) break;
      // Closed under us (another stream of the transfer failed): no more reads through its descriptor.
      if (source.closing === true) throw new FerryError('ABORTED', 'source file closed');
      // A block beyond the stream's first is taken from the sink's memory (`memory.grow`), else the stream
      // waits on its own head block: a stalled stream holds no more than its share lets it.
      while (
        queue.length >= depth ||
        (free.length === 0 && (allocated >= depth || (allocated >= 1 && !takeExtra())))
      )
        await writeHead();
      let memory = free.pop();
      if (memory === undefined) {
        memory = {
          block: new ArrayBuffer(slots * slotBytes),
          out: new ArrayBuffer(sealedCapacity(slots, slotBytes)),
        };
        allocated += 1;
      }
      const buffer = Buffer.from(memory.block);
      const lengths = block.lengths.map((length) => sink.headerBytes + length);
      if (fd === undefined) {
        const views = block.lengths.map((length, i) =>
          buffer.subarray(i * slotBytes + sink.headerBytes, i * slotBytes + sink.headerBytes + length),
        );
        try {
          await source.readvExactly(views, block.offset);
        } catch (err) {
          free.push(memory);
          throw err;
        }
      }
      let offset = block.offset;
      for (let i = 0; i < block.lengths.length; i++) {
        sink.writeDataHeader(buffer.subarray(i * slotBytes), offset);
        offset += block.lengths[i]!;
      }
      // Nonces are taken only now, with the data in hand or (`fd`) read by the worker, which seals what it
      // could not read as zeros: nothing can fail between this and the write.
      const ranges = sink.reserve(block.lengths.length + (block.last ? 1 : 0));
      const closing = block.last ? splitLast(ranges) : undefined;
      const sealing = sink.pool.seal({
        block: memory.block,
        out: memory.out,
        slotBytes,
        lengths,
        headerBytes: sink.headerBytes,
        ranges,
        chunk: hashIds.get(block.chunk) ?? hashIds.set(block.chunk, sink.pool.hashId()).get(block.chunk)!,
        last: block.last,
        read: fd === undefined ? undefined : { fd, position: block.offset },
      });
      sealing.catch(() => undefined); // awaited in order by writeHead
      queue.push({ block, sealing, closing });
    }
    while (queue.length > 0) await writeHead();
    if (readFailure !== undefined) throw readFailure;
  } finally {
    // Reserved nonces must still reach the peer in order, or the session could not go on: what was dispatched
    // is written even when reading or the caller stopped; the keys of closing ranges never used are zeroed.
    while (queue.length > 0) {
      const head = queue[0]!;
      try {
        await writeHead();
      } catch (err) {
        head.closing?.key.fill(0);
        sink.abandon?.(err);
        break;
      }
    }
    for (const rest of queue) rest.closing?.key.fill(0);
    if (fd !== undefined) {
      // Jobs not written (the session failed) may still be reading through the descriptor.
      await Promise.allSettled(queue.map((rest) => rest.sealing));
      source.returnFd?.();
    }
    // The blocks taken go back once no job holds them (a failed session's may still be sealing).
    void Promise.allSettled(queue.map((rest) => rest.sealing)).then(() => sink.memory?.release());
  }
  return sent;
}

/** The error a worker's short read stands for: SOURCE_CHANGED when the file ended early, as `readvExactly`'s. */
function readError(failure: ReadFailure, size: number): Error {
  if ('endedAt' in failure) {
    return new FerryError('SOURCE_CHANGED', `file ended at ${failure.endedAt}, expected ${size} bytes`);
  }
  return Object.assign(new Error(failure.message), { code: failure.code });
}

/** Takes the last nonce of `ranges` off into its own range (the chunk's closing message). */
function splitLast(ranges: NonceRange[]): NonceRange {
  const last = ranges[ranges.length - 1]!;
  if (last.count === 1) {
    ranges.pop();
    return last;
  }
  last.count -= 1;
  return { key: Buffer.from(last.key), nonce: last.nonce + last.count, count: 1 };
}
