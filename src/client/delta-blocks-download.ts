import { FerryError } from '../errors/index.js';
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

/**
 * Old-file offsets scanned per read (the read holds one block more, for matches across its end). 1 MiB, not
 * the leaves' 4 MiB: every download in flight scans at once (up to MAX_PIPELINED), and blocks of 1-4 KiB
 * re-read at most 0.4 % at the edges; 16 changed 15 MiB files in one `get -r`, all scanned at once, peaked
 * at about 135 MiB instead of 140-190 MiB.
 */
const SCAN_WINDOW_BYTES = 1024 * 1024;

/**
 * Writes a PATCHED answer into the partial (PROTOCOL.md §5.17.4): of a patched chunk only the pieces asked for
 * arrive; the bytes before each piece and after the last are read from the old file where its blocks were
 * found (`found`, at most one chunk at a time) and written in order, so the partial hashes the whole chunk and
 * GET_CHUNK's hash checks what was built, not only what arrived: an old file changed since its scan fails it
 * (CHUNK_MISMATCH). A GET_DATA or GET_CHUNK for a leaf that was not asked for in pieces is MESSAGE_MALFORMED
 * once it would need bytes from here.
 */
export class PatchWriter {
  readonly #found: FoundBlocks;
  readonly #write: (offset: number, data: Buffer) => Promise<void>;
  /** The chunk being built and how far into the file it is written. */
  #open: { index: number; at: number } | undefined;

  constructor(found: FoundBlocks, write: (offset: number, data: Buffer) => Promise<void>) {
    this.#found = found;
    this.#write = write;
  }

  /** Before a GET_DATA at `offset`: the local bytes of its chunk up to there. */
  async beforeData(offset: number): Promise<void> {
    await this.#fill(Math.floor(offset / LEAF_BYTES), offset);
  }

  /** After a GET_DATA's bytes up to `end` were written. */
  wrote(end: number): void {
    if (this.#open) this.#open.at = end;
  }

  /** Before GET_CHUNK `index` is checked: the rest of a patched chunk. */
  async beforeChunk(index: number): Promise<void> {
    if (this.#found.isPatched(index))
      await this.#fill(index, index * LEAF_BYTES + this.#found.leafLength(index));
    this.#open = undefined;
  }

  async #fill(index: number, to: number): Promise<void> {
    if (this.#open === undefined || this.#open.index !== index)
      this.#open = { index, at: index * LEAF_BYTES };
    const open = this.#open;
    if (to <= open.at) return;
    if (!this.#found.isPatched(index))
      throw new FerryError('MESSAGE_MALFORMED', `patched chunk ${index} was not asked for in pieces`);
    // Data past the chunk's end is the partial's to refuse, as for any download.
    const end = Math.min(to, index * LEAF_BYTES + this.#found.leafLength(index));
    if (end > open.at) await this.#write(open.at, await this.#found.read(open.at, end));
    open.at = to;
  }
}

/** No block of the new file was found in the old one at this offset. */
const NOT_FOUND = -1;

/**
 * The blocks of the new file found in the old one, as a map from each block to its offset in the old file
 * (8 bytes a block, at most 4096 blocks below 16 MiB), and the leaves asked for in PATCH pieces (§5.17.4).
 * The found bytes are read from the old file, through the handle the scan used, only when they are written
 * into the partial, a leaf at most at a time: a download holds no copy of the new file, whatever its size.
 * The bytes read are checked where they land: a leaf claimed by the server's check of the claim, a patched
 * leaf by the partial's hash of the whole chunk against GET_CHUNK's, so an old file changed since the scan
 * fails that check (`CHUNK_MISMATCH`) and never reaches the new file.
 */
export class FoundBlocks {
  readonly #old: SourceFile;
  readonly #at: Float64Array;
  readonly #size: number;
  readonly #blockBytes: number;
  readonly #patched = new Set<number>();

  constructor(old: SourceFile, at: Float64Array, size: number, blockBytes: number) {
    this.#old = old;
    this.#at = at;
    this.#size = size;
    this.#blockBytes = blockBytes;
  }

  /** Marks leaf `index` as asked for in pieces, its other bytes taken from here. */
  patch(index: number): void {
    this.#patched.add(index);
  }

  /** The leaves asked for in pieces, in order. */
  patchedLeaves(): number[] {
    return [...this.#patched].sort((a, b) => a - b);
  }

  /** Whether leaf `index` was asked for in pieces (so the bytes around them come from here). */
  isPatched(index: number): boolean {
    return this.#patched.has(index);
  }

  /** The length of leaf `index` of the new file. */
  leafLength(index: number): number {
    return chunkLength(index, this.#size, LEAF_BYTES);
  }

  /**
   * The bytes `[from, to)` of the new file (inside one leaf) as the old file holds them now, read where its
   * blocks were found (runs of blocks found one after the other read at once); the bytes of a block not found
   * are zero, so a piece the server left out fails the chunk's hash.
   */
  async read(from: number, to: number): Promise<Buffer> {
    if (to - from > LEAF_BYTES || from < 0 || to > this.#size)
      throw new RangeError(`${from}..${to} is not inside one leaf of ${this.#size} bytes`);
    const bytes = Buffer.alloc(to - from);
    const blockBytes = this.#blockBytes;
    let run: { into: number; oldAt: number; length: number } | undefined;
    const flush = async (): Promise<void> => {
      if (run) await this.#old.readExactly(bytes, run.into, run.length, run.oldAt);
      run = undefined;
    };
    for (let block = Math.floor(from / blockBytes); block * blockBytes < to; block++) {
      const at = this.#at[block]!;
      if (at === NOT_FOUND) {
        await flush();
        continue;
      }
      const start = Math.max(from, block * blockBytes);
      const end = Math.min(to, (block + 1) * blockBytes);
      const oldAt = at + (start - block * blockBytes);
      if (run && run.oldAt + run.length === oldAt && run.into + run.length === start - from) {
        run.length += end - start;
        continue;
      }
      await flush();
      run = { into: start - from, oldAt, length: end - start };
    }
    await flush();
    return bytes;
  }
}

/** What the old file gave a delta download in blocks under one leaf (PROTOCOL.md §5.17.3, §5.17.4). */
export interface TakenBlocks {
  /** The leaves whose every byte was found: written into the partial with their leaf hashes, to be claimed. */
  readonly held: ChunkHashes;
  /** True when the old file is the server's file: every block in place, same size, same digest. */
  readonly identical: boolean;
  /** The bytes of the leaves not held that the old file lacks, as PATCH pieces (§5.17.4), in order. */
  readonly patch: BytePiece[];
  /** Where the bytes of the leaves not held that were found lie in the old file, to fill them around the pieces. */
  readonly found: FoundBlocks;
}

/**
 * Finds the blocks of a signature in blocks under one leaf (a file under 16 MiB, §5.15.2's rule) in the
 * client's old file: the rolling checksum over every byte offset of `old`, each candidate confirmed by its
 * 128-bit strong hash (`DeltaMatcher`), noted as the block's offset in the old file (`FoundBlocks`, a few
 * bytes a block; no copy of the new file is built). A leaf whose every byte was found is read from the old
 * file, written into the partial with the leaf hash of the bytes read and claimed like a resumed chunk (the
 * server's check of the claim proves it, §5.17.3); the bytes of every other leaf that were not found become
 * the PATCH pieces asked for (§5.17.4), and the bytes found are read again from `old` when those leaves are
 * filled around what arrives, each leaf then checked whole against its chunk hash as any download's chunk
 * is. `old` must therefore stay open until the patched download ends.
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
  const at = new Float64Array(signature.weak.length).fill(NOT_FOUND);
  let inPlace = old.size === size;
  const matcher = new DeltaMatcher(signature, (block, offset) => {
    at[block] = offset;
    if (offset !== block * blockBytes) inPlace = false;
  });
  // One buffer for every window: a match notes only its offset, so nothing refers to a window once scanned.
  const buffer = Buffer.allocUnsafe(Math.min(old.size, SCAN_WINDOW_BYTES - 1 + blockBytes));
  for (let from = 0; from < old.size;) {
    const to = Math.min(old.size, from + SCAN_WINDOW_BYTES);
    const readEnd = Math.min(old.size, to - 1 + blockBytes);
    const window = buffer.subarray(0, readEnd - from);
    await old.readExactly(window, 0, window.length, from);
    from = matcher.scan(window, from, from, to, readEnd === old.size).next;
  }
  fillRepeats(signature, at);
  const found = new FoundBlocks(old, at, size, blockBytes);
  const held = new ChunkHashes(size, LEAF_BYTES);
  const whole: number[] = [];
  const patch: BytePiece[] = [];
  for (let leaf = 0; leaf < held.count; leaf++) {
    const start = leaf * LEAF_BYTES;
    const missing = missingPieces(at, blockBytes, start, start + held.lengthOf(leaf));
    if (missing.length === 0) {
      whole.push(leaf);
      continue;
    }
    inPlace = false;
    found.patch(leaf);
    patch.push(...missing);
  }
  // Every block in place: the old file may be the server's. Its leaves are hashed first and written only
  // if its digest says otherwise, so an identical file costs no write.
  if (inPlace) {
    const hashes = new ChunkHashes(size, LEAF_BYTES);
    for (const leaf of whole) hashes.set(leaf, leafHash(await readLeaf(found, leaf)));
    if (hashes.digest().equals(signed.digest)) return { held, identical: true, patch: [], found };
  }
  for (const leaf of whole) {
    // The bytes written are the bytes hashed; the partial hashes them again as it writes (its check).
    const bytes = await readLeaf(found, leaf);
    const hash = leafHash(bytes);
    await partial.writeData(leaf * LEAF_BYTES, bytes);
    partial.completeChunk(leaf, hash);
    held.set(leaf, hash);
  }
  // Never more than 4096 pieces below 16 MiB (at most 4096 blocks, so 2048 gaps, cut at 256 leaves); kept
  // as a bound all the same: the leaves not held are asked for whole.
  if (patch.length > MAX_PATCH_PIECES) {
    patch.length = 0;
    for (const leaf of found.patchedLeaves())
      patch.push({ offset: leaf * LEAF_BYTES, length: held.lengthOf(leaf) });
  }
  return { held, identical: false, patch, found };
}

/** Leaf `index` of the new file, every byte of it found, read from the old file (one leaf of memory). */
function readLeaf(found: FoundBlocks, index: number): Promise<Buffer> {
  return found.read(index * LEAF_BYTES, index * LEAF_BYTES + found.leafLength(index));
}

/** The bytes of `[start, end)` that no found block covers, as pieces in order. */
function missingPieces(at: Float64Array, blockBytes: number, start: number, end: number): BytePiece[] {
  const pieces: BytePiece[] = [];
  for (let block = Math.floor(start / blockBytes); block * blockBytes < end; block++) {
    if (at[block] !== NOT_FOUND) continue;
    const from = Math.max(start, block * blockBytes);
    const to = Math.min(end, (block + 1) * blockBytes);
    const last = pieces.at(-1);
    if (last !== undefined && last.offset + last.length === from) last.length += to - from;
    else pieces.push({ offset: from, length: to - from });
  }
  return pieces;
}

/**
 * Blocks not found whose signature equals a found block's are read where that one was found (a file of
 * repeated blocks): the matcher finds each old window once, but the server's file may hold it many times.
 */
function fillRepeats(signature: DeltaSignature, at: Float64Array): void {
  const { weak, strong, oldSize, blockBytes } = signature;
  const key = (block: number): string =>
    `${weak[block]}:${deltaBlockLength(block, oldSize, blockBytes)}:` +
    strong.toString('hex', block * DELTA_STRONG_BYTES, (block + 1) * DELTA_STRONG_BYTES);
  const byKey = new Map<string, number>();
  for (let block = 0; block < at.length; block++) if (at[block] !== NOT_FOUND) byKey.set(key(block), block);
  if (byKey.size === 0) return;
  for (let block = 0; block < at.length; block++) {
    if (at[block] !== NOT_FOUND) continue;
    const source = byKey.get(key(block));
    if (source !== undefined) at[block] = at[source]!;
  }
}
