import { LEAF_BYTES, noteLeafHash, type ChunkHashes } from '../protocol/index.js';

/**
 * Tells the partial's chunk hasher (leaf hints, `noteLeafHash`) the hash of every whole leaf `piece` holds
 * that is a whole leaf of the old file and lands on a leaf of the new one (both offsets on a leaf boundary),
 * taken from the old file's signing (`hashes`, by old leaf index). The caller has checked the old file is
 * still the version signed after `piece` was read. The chunk is still checked against the client's chunk
 * hash at PUT_CHUNK; only the SHA-256 of bytes already hashed, unchanged since, is spared. A leaf without a
 * hint is hashed as it is written, as before.
 */
export function noteSignedLeaves(
  piece: Buffer,
  offset: number,
  oldOffset: number,
  hashes: ChunkHashes,
): void {
  if (offset % LEAF_BYTES !== 0 || oldOffset % LEAF_BYTES !== 0) return;
  for (let at = 0; at + LEAF_BYTES <= piece.length; at += LEAF_BYTES) {
    const hash = hashes.get((oldOffset + at) / LEAF_BYTES);
    // A copy: the hasher owns what it is given, and the table stays as signed.
    if (hash !== undefined) noteLeafHash(piece.buffer, piece.byteOffset + at, Buffer.from(hash));
  }
}
