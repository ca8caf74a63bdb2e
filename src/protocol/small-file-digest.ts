import type { Buffer } from 'node:buffer';
import { chunkHashOf } from './chunk-hasher.js';
import { fileDigest } from './file-digest.js';

/**
 * The file digest (PROTOCOL.md §7.2) of a file that is one chunk of `chunkBytes` at most, from its bytes:
 * what a PUT_BATCH entry carries and what the server checks it against (§5.14). An empty file has no chunk.
 * The same digest as the one-file path's, so a batched file and a file sent alone are one file to both sides.
 */
export function smallFileDigest(data: Uint8Array, chunkBytes: number): Buffer {
  return fileDigest(data.length, chunkBytes, data.length === 0 ? [] : [chunkHashOf(data)]);
}
