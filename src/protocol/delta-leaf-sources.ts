import { LEAF_BYTES, MAX_ACCEPT_RANGES } from './constants.js';
import type { ChunkRange } from './chunk-ranges.js';
import type { DeltaOp } from './delta-matcher.js';
import { DELTA_STRONG_BYTES, deltaBlockLength, type DeltaSignature } from './delta-signature.js';

/**
 * Where a delta download finds each leaf of the server's file in the client's old file (PROTOCOL.md §5.17.3):
 * the copies a `DeltaMatcher` scan of the old file against the server's signature found, as one old-file
 * offset per leaf (−1 for a leaf not found). Pure: the client's driver scans, then reads and verifies each
 * leaf at its offset before it counts.
 */
export class DeltaLeafSources {
  readonly #signature: DeltaSignature;
  readonly #offsets: Float64Array;
  #found = 0;

  constructor(signature: DeltaSignature) {
    this.#signature = signature;
    this.#offsets = new Float64Array(signature.weak.length).fill(-1);
  }

  /** The leaves of the server's file. */
  get count(): number {
    return this.#offsets.length;
  }

  /** Leaves found so far. */
  get found(): number {
    return this.#found;
  }

  /**
   * Takes the copies of one scan (`newOffset` in the old local file, `oldOffset` a leaf of the server's file,
   * as `DeltaMatcher.scan` names them when the local file is scanned); literal ops are skipped.
   */
  add(ops: readonly DeltaOp[]): void {
    for (const op of ops) {
      if (op.oldOffset < 0) continue;
      // A copy covers whole leaves from a leaf boundary of the server's file (or its short last leaf).
      for (let done = 0; done < op.length;) {
        const block = (op.oldOffset + done) / LEAF_BYTES;
        if (!Number.isInteger(block) || block >= this.#offsets.length)
          throw new RangeError('a delta copy that is not whole leaves of the signature');
        this.#set(block, op.newOffset + done);
        done += deltaBlockLength(block, this.#signature.oldSize);
      }
    }
  }

  /**
   * Leaves not found whose signature equals a found leaf's (a file of repeated blocks, zeros say) take that
   * leaf's offset: the matcher finds each old window once, but the server's file may hold it many times.
   */
  fillRepeats(): void {
    const { strong, weak, oldSize } = this.#signature;
    const byKey = new Map<string, number>();
    const key = (block: number): string =>
      `${weak[block]}:${deltaBlockLength(block, oldSize)}:` +
      strong.toString('hex', block * DELTA_STRONG_BYTES, (block + 1) * DELTA_STRONG_BYTES);
    for (let block = 0; block < this.#offsets.length; block++)
      if (this.#offsets[block]! >= 0) byKey.set(key(block), this.#offsets[block]!);
    if (byKey.size === 0) return;
    for (let block = 0; block < this.#offsets.length; block++) {
      if (this.#offsets[block]! >= 0) continue;
      const at = byKey.get(key(block));
      if (at !== undefined) this.#set(block, at);
    }
  }

  /** The old-file offset of `block`, or −1. */
  offsetOf(block: number): number {
    return this.#offsets[block]!;
  }

  /** True when every leaf was found where it lies in the server's file and the sizes agree: maybe identical. */
  inPlace(localSize: number): boolean {
    if (localSize !== this.#signature.oldSize) return false;
    for (let block = 0; block < this.#offsets.length; block++)
      if (this.#offsets[block] !== block * LEAF_BYTES) return false;
    return true;
  }

  #set(block: number, offset: number): void {
    if (this.#offsets[block]! < 0) this.#found++;
    this.#offsets[block] = offset;
  }
}

/**
 * The held chunks a request may claim, at most MAX_ACCEPT_RANGES ranges (PROTOCOL.md §5.4): when the held
 * set is more scattered than that, the smallest ranges are left out (their chunks are received again),
 * so what is given up is the least data.
 */
export function boundedHeldRanges(ranges: readonly ChunkRange[]): ChunkRange[] {
  if (ranges.length <= MAX_ACCEPT_RANGES) return [...ranges];
  const keep = [...ranges]
    .sort((a, b) => b.count - a.count || a.first - b.first)
    .slice(0, MAX_ACCEPT_RANGES)
    .sort((a, b) => a.first - b.first);
  return keep;
}
