import {
  ChunkHashes,
  DELTA_STRONG_BYTES,
  DeltaMatcher,
  LEAF_BYTES,
  LEAF_DELTA_FROM_BYTES,
  MAX_PATCH_PIECES,
  chunkLength,
  deltaBlockLength,
  leafHash,
  type BytePiece,
  type DeltaSignature,
} from '../protocol/index.js';
import type { PartialTransfer, SourceFile } from '../transfer/index.js';

/** Old-file offsets scanned per read (the read holds one block more, for matches across its end). */
const SCAN_WINDOW_BYTES = 4 * 1024 * 1024;

/** What the old file gave a delta download in blocks under one leaf (PROTOCOL.md §5.17.3, §5.17.4). */
export interface TakenBlocks {
  /** The leaves whose every byte was found: written into the partial with their leaf hashes, to be claimed. */
  readonly held: ChunkHashes;
  /** True when the old file is the server's file: every block in place, same size, same digest. */
  readonly identical: boolean;
  /** The bytes of the leaves not held that the old file lacks, as PATCH pieces (§5.17.4), in order. */
  readonly patch: BytePiece[];
  /** The leaves not held, by index, holding the bytes found (the pieces' bytes are zero until they come). */
  readonly local: Map<number, Buffer>;
}

/**
 * Finds the blocks of a signature in blocks under one leaf (a file under 16 MiB, §5.15.2's rule) in the
 * client's old file, and lays out the new file from them: the rolling checksum over every byte offset of
 * `old`, each candidate confirmed by its 128-bit strong hash (`DeltaMatcher`), copied to the block's place in
 * a buffer of the new file's size (under 16 MiB). A leaf whose every byte was found is written into the
 * partial with its leaf hash and claimed like a resumed chunk (the server's check of the claim proves it,
 * §5.17.3); the bytes of every other leaf that were not found become the PATCH pieces asked for (§5.17.4),
 * and the bytes found stay here to fill those leaves around what arrives, each leaf then checked whole
 * against its chunk hash as any download's chunk is.
 */
export async function takeBlocks(
  old: SourceFile,
  signed: { signature: DeltaSignature; digest: Buffer },
  partial: PartialTransfer,
): Promise<TakenBlocks> {
  const { signature } = signed;
  const size = signature.oldSize;
  const blockBytes = signature.blockBytes;
  if (size >= LEAF_DELTA_FROM_BYTES || blockBytes >= LEAF_BYTES)
    throw new RangeError('blocks under one leaf describe a file under 16 MiB');
  const blocks = signature.weak.length;
  const built = Buffer.alloc(size);
  const found = new Uint8Array(blocks);
  let inPlace = old.size === size;
  const matcher = new DeltaMatcher(signature, (block, offset) => {
    found[block] = 1;
    if (offset !== block * blockBytes) inPlace = false;
    const length = deltaBlockLength(block, size, blockBytes);
    window!.copy(built, block * blockBytes, offset - windowAt, offset - windowAt + length);
  });
  let window: Buffer | undefined;
  let windowAt = 0;
  for (let from = 0; from < old.size;) {
    const to = Math.min(old.size, from + SCAN_WINDOW_BYTES);
    const readEnd = Math.min(old.size, to - 1 + blockBytes);
    window = Buffer.allocUnsafe(readEnd - from);
    windowAt = from;
    await old.readExactly(window, 0, window.length, from);
    from = matcher.scan(window, from, from, to, readEnd === old.size).next;
  }
  fillRepeats(signature, found, built);
  const held = new ChunkHashes(size, LEAF_BYTES);
  const leafHashes = new ChunkHashes(size, LEAF_BYTES);
  const patch: BytePiece[] = [];
  const local = new Map<number, Buffer>();
  for (let leaf = 0; leaf < held.count; leaf++) {
    const start = leaf * LEAF_BYTES;
    const end = start + chunkLength(leaf, size, LEAF_BYTES);
    const missing = missingPieces(found, blockBytes, start, end);
    const bytes = built.subarray(start, end);
    if (missing.length > 0) {
      inPlace = false;
      local.set(leaf, bytes);
      patch.push(...missing);
      continue;
    }
    leafHashes.set(leaf, leafHash(bytes));
  }
  if (inPlace && leafHashes.knownCount === leafHashes.count && leafHashes.digest().equals(signed.digest))
    return { held, identical: true, patch: [], local: new Map() };
  for (const { index: leaf, hash } of leafHashes.entries()) {
    // The bytes written are the bytes hashed; the partial hashes them again as it writes (its check).
    await partial.writeData(
      leaf * LEAF_BYTES,
      built.subarray(leaf * LEAF_BYTES, leaf * LEAF_BYTES + held.lengthOf(leaf)),
    );
    partial.completeChunk(leaf, hash);
    held.set(leaf, hash);
  }
  // Never more than 4096 pieces below 16 MiB (at most 4096 blocks, so 2048 gaps, cut at 256 leaves); kept
  // as a bound all the same: the leaves not held are asked for whole.
  if (patch.length > MAX_PATCH_PIECES) {
    patch.length = 0;
    for (const leaf of local.keys()) patch.push({ offset: leaf * LEAF_BYTES, length: held.lengthOf(leaf) });
  }
  return { held, identical: false, patch, local };
}

/** The bytes of `[start, end)` that no found block covers, as pieces in order. */
function missingPieces(found: Uint8Array, blockBytes: number, start: number, end: number): BytePiece[] {
  const pieces: BytePiece[] = [];
  for (let block = Math.floor(start / blockBytes); block * blockBytes < end; block++) {
    if (found[block] === 1) continue;
    const from = Math.max(start, block * blockBytes);
    const to = Math.min(end, (block + 1) * blockBytes);
    const last = pieces.at(-1);
    if (last !== undefined && last.offset + last.length === from) last.length += to - from;
    else pieces.push({ offset: from, length: to - from });
  }
  return pieces;
}

/**
 * Blocks not found whose signature equals a found block's take its bytes (a file of repeated blocks): the
 * matcher finds each old window once, but the server's file may hold it many times.
 */
function fillRepeats(signature: DeltaSignature, found: Uint8Array, built: Buffer): void {
  const { weak, strong, oldSize, blockBytes } = signature;
  const key = (block: number): string =>
    `${weak[block]}:${deltaBlockLength(block, oldSize, blockBytes)}:` +
    strong.toString('hex', block * DELTA_STRONG_BYTES, (block + 1) * DELTA_STRONG_BYTES);
  const byKey = new Map<string, number>();
  for (let block = 0; block < found.length; block++) if (found[block] === 1) byKey.set(key(block), block);
  if (byKey.size === 0) return;
  for (let block = 0; block < found.length; block++) {
    if (found[block] === 1) continue;
    const source = byKey.get(key(block));
    if (source === undefined) continue;
    const length = deltaBlockLength(block, oldSize, blockBytes);
    built.copy(built, block * blockBytes, source * blockBytes, source * blockBytes + length);
    found[block] = 1;
  }
}
