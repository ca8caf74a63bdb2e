import { LEAF_BYTES, noteLeafHash, type KnownLeafHash } from '../protocol/index.js';
import type { ChunkSource } from './chunk-source.js';
import type { LeafHashesAhead } from './leaf-hashes-ahead.js';

/**
 * The leaf hashes taken ahead for the whole leaves of chunk `[start, end)`, read into `window`: noted for
 * the chunk hash (leaf hints) and returned for the matcher. Only when the source's identity (device, inode,
 * size, mtime and ctime in ns) is still the one it had when opened, checked after the window was read: then
 * the bytes hashed ahead are the bytes read (any write moves the ctime). A source that changed fails the
 * upload with SOURCE_CHANGED here, as the check before the digest would.
 */
export async function knownLeaves(
  source: ChunkSource,
  ahead: LeafHashesAhead | undefined,
  window: Buffer,
  start: number,
  end: number,
): Promise<KnownLeafHash | undefined> {
  const hashes = ahead?.hashes;
  if (hashes === undefined || start % LEAF_BYTES !== 0 || !hashes.has(start / LEAF_BYTES)) return undefined;
  await source.assertUnchanged();
  const wholeEnd = Math.min(end, source.size - (source.size % LEAF_BYTES));
  for (let at = start; at + LEAF_BYTES <= wholeEnd; at += LEAF_BYTES) {
    const hash = hashes.get(at / LEAF_BYTES);
    if (hash !== undefined) noteLeafHash(window.buffer, window.byteOffset + (at - start), Buffer.from(hash));
  }
  // For the matcher: whole leaves of this chunk's window, on a leaf boundary, hashed ahead.
  return (offset) =>
    offset % LEAF_BYTES === 0 &&
    offset >= start &&
    offset + LEAF_BYTES <= Math.min(source.size, start + window.length)
      ? copyOf(hashes.get(offset / LEAF_BYTES))
      : undefined;
}

/** A hash the matcher may hand on as its own (a leaf hint's hash is kept by the chunk hasher). */
function copyOf(hash: Buffer | undefined): Buffer | undefined {
  return hash && Buffer.from(hash);
}
