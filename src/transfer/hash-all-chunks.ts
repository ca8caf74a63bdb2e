import { ChunkHashes } from '../protocol/index.js';
import { hashChunks } from './chunk-streamer.js';
import type { ChunkSource } from './chunk-source.js';

/** Hashes `chunks` of a file into `hashes`: `hashChunks` over the file, or a cache in front of it. */
export type HashChunksInto = (chunks: Iterable<number>, hashes: ChunkHashes) => Promise<void>;

/**
 * Every chunk hash of a file that already exists, in chunks of `chunkBytes`: what a receiver states about a
 * destination it already has, the server for an EXISTING offer (PROTOCOL.md §5.4) and the client for a
 * VERIFY_ONLY request (§5.11.1). `hashInto` does the reading; the server passes its hash cache's, so a check
 * that sends no data costs one read per file version (docs/SECURITY.md "Hashing on request").
 */
export async function hashAllChunks(
  source: ChunkSource,
  chunkBytes: number,
  hashInto: HashChunksInto = (chunks, hashes) => hashChunks(source, chunks, hashes),
): Promise<ChunkHashes> {
  const hashes = new ChunkHashes(source.size, chunkBytes);
  await hashInto(hashes.allChunks(), hashes);
  return hashes;
}
