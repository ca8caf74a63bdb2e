import { FerryError } from '../errors/index.js';
import {
  ChunkHasher,
  LEAF_BYTES,
  MAX_PUT_DATA_BYTES,
  chunkLength,
  deltaOpsWithin,
  noteLeafHash,
  type ChunkHashes,
  type DeltaMatcher,
  type DeltaOp,
  type DeltaScan,
} from '../protocol/index.js';
import type { ChunkSource } from './chunk-source.js';

/** Where a delta streamer puts a chunk's pieces (PROTOCOL.md §5.15.3): copies, literals, then the hash. */
export interface DeltaSink {
  sendCopy(offset: number, oldOffset: number, length: number): Promise<void>;
  /** `data` lies in the streamer's read buffer, reused for the next chunk once this resolves: copy it. */
  sendData(offset: number, data: Buffer): Promise<void>;
  sendChunk(index: number, chunkHash: Buffer): Promise<void>;
}

export interface StreamDeltaOptions {
  chunkBytes: number;
  chunks: Iterator<number>;
  hashes: ChunkHashes;
  matcher: DeltaMatcher;
  sink: DeltaSink;
  signal?: AbortSignal | undefined;
  onChunk?: (index: number, chunkHash: Buffer, bytes: number) => void | Promise<void>;
}

/** What a delta stream sent: file bytes covered, and how many of them travelled as literals. */
export interface DeltaStreamed {
  readonly bytes: number;
  readonly literalBytes: number;
}

/**
 * Sends the chunks `chunks` yields as PUT_COPY and PUT_DATA pieces and PUT_CHUNK (PROTOCOL.md §5.15.3). Each
 * chunk is read with the block after it, so a match that starts in the chunk is seen whole; a match running
 * past the chunk's end is carried into the next chunk when that is the next one sent (a resume skips held
 * chunks, and the carry is dropped). The chunk hash is computed over the chunk's bytes as read, as for a
 * plain upload: the server rebuilds the chunk and checks it against that hash.
 */
export async function streamDeltaChunks(
  source: ChunkSource,
  options: StreamDeltaOptions,
): Promise<DeltaStreamed> {
  const { chunkBytes, chunks, hashes, matcher, sink } = options;
  const hasher = new ChunkHasher();
  let bytes = 0;
  let literalBytes = 0;
  let carry: { chunk: number; next: number; ops: DeltaOp[] } | undefined;
  let scratch: Buffer | undefined;
  for (let item = chunks.next(); !item.done; item = chunks.next()) {
    if (options.signal?.aborted) throw new FerryError('ABORTED');
    const chunk = item.value;
    const start = chunk * chunkBytes;
    const length = chunkLength(chunk, source.size, chunkBytes);
    const end = start + length;
    const windowEnd = Math.min(source.size, end + matcher.blockBytes - 1);
    // One read buffer for every chunk: a fresh chunk-sized buffer each time was the client's main garbage
    // (a third of its CPU in collections at 256 MiB). Safe to reuse: the sink copies what it sends before it
    // resolves (the channel seals at once), and every leaf hint noted below is taken by the chunk hash.
    scratch ??= Buffer.allocUnsafe(Math.min(source.size, chunkBytes + matcher.blockBytes - 1));
    const window = scratch.subarray(0, windowEnd - start);
    await source.readExactly(window, 0, window.length, start);
    const carried = carry?.chunk === chunk ? carry : undefined;
    const from = carried ? Math.min(carried.next, end) : start;
    // A block found at a leaf of this chunk was hashed by the matcher over these very bytes, which stay as
    // they are: the chunk hash below takes that leaf hash (a leaf hint) instead of hashing the leaf again.
    // Only a whole leaf's hash is a leaf hash: a block smaller than a leaf (old files under 16 MiB, §5.15.2)
    // or a short last block is not, and a wrong hint would make the chunk hash wrong.
    matcher.listen((block, offset, leafHash) => {
      if (
        matcher.blockLength(block) === LEAF_BYTES &&
        offset + LEAF_BYTES <= end &&
        (offset - start) % LEAF_BYTES === 0
      )
        noteLeafHash(window.buffer, window.byteOffset + (offset - start), leafHash);
    });
    let scan: DeltaScan;
    try {
      scan = matcher.scan(window, start, from, end, windowEnd === source.size);
    } finally {
      matcher.listen(undefined);
    }
    const ops = [...(carried ? deltaOpsWithin(carried.ops, start, from) : []), ...scan.ops];
    carry =
      scan.next > end
        ? { chunk: chunk + 1, next: scan.next, ops: deltaOpsWithin(scan.ops, end, scan.next) }
        : undefined;
    for (const op of deltaOpsWithin(ops, start, end)) {
      if (op.oldOffset >= 0) {
        await sink.sendCopy(op.newOffset, op.oldOffset, op.length);
        continue;
      }
      literalBytes += op.length;
      for (let at = op.newOffset; at < op.newOffset + op.length; at += MAX_PUT_DATA_BYTES) {
        const n = Math.min(MAX_PUT_DATA_BYTES, op.newOffset + op.length - at);
        await sink.sendData(at, window.subarray(at - start, at - start + n));
      }
    }
    const chunkHash = hasher.update(window.subarray(0, length)).digest();
    hashes.set(chunk, chunkHash);
    await sink.sendChunk(chunk, chunkHash);
    bytes += length;
    await options.onChunk?.(chunk, chunkHash, length);
  }
  return { bytes, literalBytes };
}
