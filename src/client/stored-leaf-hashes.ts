import { LEAF_BYTES, type KnownLeafHash } from '../protocol/index.js';
import type { LeafTable } from './old-leaf-tables.js';
import { OLD_FILE_SCAN_COUNTERS } from './old-file-scan-counters.js';

/**
 * The matcher's leaf hashes of an old file of `size` bytes from `table` (a whole leaf at a leaf boundary,
 * phase 0, among those vouched for), and from `other` elsewhere (leaves hashed ahead at another phase, if
 * any). The caller vouches that the bytes scanned are the version the table's hashes are of (the identity
 * checked after their read).
 */
export function storedLeafHashes(
  table: LeafTable,
  size: number,
  other: KnownLeafHash | undefined,
): KnownLeafHash {
  return (offset) => {
    if (offset % LEAF_BYTES !== 0 || offset + LEAF_BYTES > size) return other?.(offset);
    const index = offset / LEAF_BYTES;
    const hash = index < table.through ? table.hashes.get(index) : undefined;
    if (hash === undefined) return other?.(offset);
    if (table.stored) OLD_FILE_SCAN_COUNTERS.knownLeaves++;
    // A copy for each use: the partial and the chunk hasher keep the hashes they are given.
    return Buffer.from(hash);
  };
}
