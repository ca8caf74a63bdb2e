import {
  ChunkHashes,
  DELTA_STRONG_BYTES,
  DeltaLeafSources,
  DeltaMatcher,
  LEAF_BYTES,
  deltaBlockLength,
  leafHash,
  type DeltaSignature,
} from '../protocol/index.js';
import type { PartialTransfer, SourceFile } from '../transfer/index.js';

/** New-file offsets scanned per read of the old file (the read holds one leaf more, for matches across it). */
const SCAN_WINDOW_BYTES = 4 * 1024 * 1024;

/** The most bytes of the old file one read of matched leaves holds. */
const PLACE_READ_BYTES = 4 * 1024 * 1024;

/**
 * Finds the server's leaves in the client's old file (PROTOCOL.md §5.17.3): the rolling checksum over every
 * byte offset of `old`, each candidate confirmed by its truncated leaf hash (`DeltaMatcher`, the delta
 * upload's matcher with the roles of old and new swapped), read in windows of a few MiB.
 */
export async function findLeaves(old: SourceFile, signature: DeltaSignature): Promise<DeltaLeafSources> {
  const sources = new DeltaLeafSources(signature);
  if (signature.weak.length === 0) return sources;
  const matcher = new DeltaMatcher(signature);
  const size = old.size;
  const buffer = Buffer.allocUnsafe(Math.min(size, SCAN_WINDOW_BYTES + LEAF_BYTES - 1));
  for (let from = 0; from < size;) {
    const to = Math.min(size, from + SCAN_WINDOW_BYTES);
    const readEnd = Math.min(size, to - 1 + LEAF_BYTES);
    const window = buffer.subarray(0, readEnd - from);
    await old.readExactly(window, 0, window.length, from);
    const scan = matcher.scan(window, from, from, to, readEnd === size);
    sources.add(scan.ops);
    from = scan.next;
  }
  sources.fillRepeats();
  return sources;
}

/**
 * Copies the leaves found in the old file into the download's partial (PROTOCOL.md §5.17.3). Each is read
 * again and counts only if its leaf hash begins with the signature's strong hash: a leaf changed since the
 * scan (the old file written meanwhile) is left to be received. A counted leaf is a verified chunk of the
 * partial (its chunks are leaves), with the hash computed here over the bytes written, so it is held
 * exactly as a resumed download's chunk is. Returns the held chunks' hashes and the bytes placed.
 */
export async function placeLeaves(
  old: SourceFile,
  sources: DeltaLeafSources,
  signature: DeltaSignature,
  partial: PartialTransfer,
): Promise<{ held: ChunkHashes; placedBytes: number }> {
  const size = signature.oldSize;
  const held = new ChunkHashes(size, LEAF_BYTES);
  let placedBytes = 0;
  for (let block = 0; block < sources.count;) {
    const start = sources.offsetOf(block);
    if (start < 0) {
      block++;
      continue;
    }
    // A run of leaves that lie one after another in the old file too is read at once.
    let end = block;
    let bytes = 0;
    while (
      end < sources.count &&
      sources.offsetOf(end) === start + bytes &&
      bytes + LEAF_BYTES <= PLACE_READ_BYTES
    ) {
      bytes += deltaBlockLength(end, size);
      end++;
    }
    const run = Buffer.allocUnsafe(bytes);
    let got = 0;
    try {
      await old.readExactly(run, 0, bytes, start);
      got = bytes;
    } catch {
      // The old file shrank under us: none of this run counts; it is received instead.
    }
    for (let at = 0; got > 0 && block < end; block++) {
      const length = deltaBlockLength(block, size);
      const leaf = run.subarray(at, at + length);
      at += length;
      const hash = leafHash(leaf);
      const strongAt = block * DELTA_STRONG_BYTES;
      if (
        !hash
          .subarray(0, DELTA_STRONG_BYTES)
          .equals(signature.strong.subarray(strongAt, strongAt + DELTA_STRONG_BYTES))
      )
        continue;
      await partial.writeData(block * LEAF_BYTES, leaf);
      partial.completeChunk(block, hash);
      held.set(block, hash);
      placedBytes += length;
    }
    block = end;
  }
  return { held, placedBytes };
}
