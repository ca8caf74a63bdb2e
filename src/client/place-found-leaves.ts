import {
  ChunkHashes,
  DELTA_STRONG_BYTES,
  LEAF_BYTES,
  deltaBlockLength,
  leafHash,
  noteLeafHash,
  type DeltaLeafSources,
  type DeltaSignature,
} from '../protocol/index.js';
import { isFerryError } from '../errors/index.js';
import type { LeafPartial, OldFile } from './delta-download.js';
import type { ReadBuffers } from './read-buffers.js';
import type { WriteThroughGate } from './write-through-gate.js';

/** The most bytes of the old file one read of leaves found earlier holds. */
const PLACE_READ_BYTES = 4 * 1024 * 1024;

/**
 * Copies the leaves `sources` found and `held` lacks into the partial, each read again and counted only if
 * its leaf hash begins with the signature's strong hash, or, for a leaf the scan hashed (`scanned`), only if
 * the bytes read again are the ones the scan hashed: the old file's identity (device, inode, size, mtime and
 * ctime in ns) still the one it had when opened, checked after the read (any write moves the ctime, which no
 * one can set back), or else the partial finding them to have that hash. A leaf changed since the scan is
 * left to be received.
 */
export async function placeLeaves(
  old: OldFile,
  sources: DeltaLeafSources,
  signature: DeltaSignature,
  partial: LeafPartial,
  held: ChunkHashes,
  scanned: ChunkHashes,
  buffers: ReadBuffers,
  gate?: WriteThroughGate,
): Promise<void> {
  let unchanged = true;
  const size = signature.oldSize;
  for (let block = 0; block < sources.count;) {
    const start = sources.offsetOf(block);
    if (start < 0 || held.has(block)) {
      block++;
      continue;
    }
    // A run of leaves that lie one after another in the old file too is read at once.
    let end = block;
    let bytes = 0;
    while (
      end < sources.count &&
      !held.has(end) &&
      sources.offsetOf(end) === start + bytes &&
      bytes + LEAF_BYTES <= PLACE_READ_BYTES
    ) {
      bytes += deltaBlockLength(end, size);
      end++;
    }
    const run = await buffers.take(bytes);
    const read = await old.readExactly(run, 0, bytes, start).then(
      () => true,
      () => false, // the old file shrank under us: this run is received instead
    );
    // Once the file changed, for good: every leaf the scan hashed is hashed again as it is written.
    if (unchanged && read)
      unchanged = await old.assertUnchanged().then(
        () => true,
        () => false,
      );
    for (let at = 0; read && block < end; block++) {
      const length = deltaBlockLength(block, size);
      const leaf = run.subarray(at, at + length);
      at += length;
      // The scan's hash is of the leaf where it lies in place; a repeat found elsewhere is hashed here.
      const known = start + (at - length) === block * LEAF_BYTES ? scanned.get(block) : undefined;
      const hash = known ?? leafHash(leaf);
      const strongAt = block * DELTA_STRONG_BYTES;
      const strong = signature.strong.subarray(strongAt, strongAt + DELTA_STRONG_BYTES);
      if (!hash.subarray(0, DELTA_STRONG_BYTES).equals(strong)) continue;
      // A leaf hashed just now from `run` is not hashed again by the partial, nor one the scan hashed from
      // the same, unchanged file; otherwise the partial's hash of the bytes read again is the check.
      if ((known === undefined || unchanged) && length === LEAF_BYTES)
        noteLeafHash(leaf.buffer, leaf.byteOffset, Buffer.from(hash));
      buffers.written(leaf);
      // A verified chunk: never under a write of the leaf hash thread's still to land.
      const through = gate?.before(block);
      if (through !== undefined) await through;
      await partial.writeData(block * LEAF_BYTES, leaf);
      try {
        // The partial hashes what it writes: for a leaf hashed by the scan, that is the check.
        partial.completeChunk(block, hash);
      } catch (err) {
        if (known !== undefined && isFerryError(err, 'CHUNK_MISMATCH')) continue;
        throw err;
      }
      held.set(block, hash);
    }
    block = end;
  }
}
