import { createHash } from 'node:crypto';
import type { Buffer } from 'node:buffer';
import { fileDigest } from './file-digest.js';

/**
 * The file digest (PROTOCOL.md §7.2) of a file that is one chunk of `chunkBytes` at most, from its bytes:
 * what a PUT_BATCH entry carries and what the server checks it against (§5.14). An empty file has no chunk.
 * The chunk hash is the one of §7.2 (to be `chunkHashOf` once protocol/chunk-hasher.ts is on this branch).
 */
export function smallFileDigest(data: Uint8Array, chunkBytes: number): Buffer {
  const chunkHashes = data.length === 0 ? [] : [createHash('sha256').update(data).digest()];
  return fileDigest(data.length, chunkBytes, chunkHashes);
}
