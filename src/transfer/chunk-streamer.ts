import { createHash } from 'node:crypto';
import { HASH_BYTES, MAX_MESSAGE_BYTES, chunkCount, chunkLength, type ChunkSet } from '../protocol/index.js';
import { FerryError } from '../errors/index.js';
import type { SourceFile } from './source-file.js';

/** Where a streamer puts its messages: the sending half of a session, for one transfer. */
export interface ChunkSink {
  /** Writes `headerAndData[0..headerBytes)` as the data message header (file offset `fileOffset`). */
  writeDataHeader(target: Buffer, fileOffset: number): number;
  /** Seals and sends one data message; `plaintext` may be reused once this resolves. */
  sendData(plaintext: Buffer): Promise<void>;
  /** Sends the chunk's closing message with its hash. */
  sendChunk(index: number, chunkHash: Buffer): Promise<void>;
}

export interface StreamChunksOptions {
  chunkBytes: number;
  /** Chunks the receiver already holds verified: not sent. */
  skip: ChunkSet;
  /** Receives the hash of every chunk sent, at `index * 32`. */
  hashes: Buffer;
  sink: ChunkSink;
  signal?: AbortSignal | undefined;
  /** Called after each chunk is sent. */
  onChunk?: (index: number, chunkHash: Buffer, bytes: number) => void | Promise<void>;
}

/**
 * Sends every chunk of `source` not in `skip`, in index order, as data messages that never cross a chunk
 * boundary followed by the chunk's hash (PROTOCOL.md §5.5). File bytes are read straight into one reused
 * plaintext buffer after the message header, so memory stays flat whatever the file size. Returns the
 * number of file bytes sent.
 */
export async function streamChunks(source: SourceFile, options: StreamChunksOptions): Promise<number> {
  const { chunkBytes, skip, hashes, sink } = options;
  const plaintext = Buffer.allocUnsafe(MAX_MESSAGE_BYTES);
  let sent = 0;
  const count = chunkCount(source.size, chunkBytes);
  for (let index = 0; index < count; index++) {
    if (skip.has(index)) continue;
    if (options.signal?.aborted) throw new FerryError('ABORTED');
    const start = index * chunkBytes;
    const length = chunkLength(index, source.size, chunkBytes);
    const hasher = createHash('sha256');
    for (let offset = start; offset < start + length;) {
      const headerBytes = sink.writeDataHeader(plaintext, offset);
      const n = Math.min(MAX_MESSAGE_BYTES - headerBytes, start + length - offset);
      await source.readExactly(plaintext, headerBytes, n, offset);
      hasher.update(plaintext.subarray(headerBytes, headerBytes + n));
      await sink.sendData(plaintext.subarray(0, headerBytes + n));
      offset += n;
    }
    const chunkHash = hasher.digest();
    chunkHash.copy(hashes, index * HASH_BYTES);
    await sink.sendChunk(index, chunkHash);
    sent += length;
    await options.onChunk?.(index, chunkHash, length);
  }
  return sent;
}

/**
 * Hashes the chunks in `held` from `source` (or takes them from `cached`), stores them in `hashes`, and
 * returns the digest input list in index order: what PROTOCOL.md §5.4's held digest is computed over.
 */
export async function hashHeldChunks(
  source: SourceFile,
  held: Iterable<number>,
  chunkBytes: number,
  hashes: Buffer,
  cached?: (index: number) => Buffer | undefined,
): Promise<Buffer[]> {
  const scratch = Buffer.allocUnsafe(Math.min(chunkBytes, 1024 * 1024));
  const out: Buffer[] = [];
  for (const index of held) {
    const hash = cached?.(index) ?? (await source.chunkHash(index, chunkBytes, scratch));
    hash.copy(hashes, index * HASH_BYTES);
    out.push(hash);
  }
  return out;
}
