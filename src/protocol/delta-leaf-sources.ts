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
    if (this.#found === 0 || this.#found === this.#offsets.length) return;
    // The leaves not found, by weak checksum (usually few: the changed ones); each found leaf is looked up
    // there by its weak checksum first, and its whole signature compared only on a hit.
    const missing = new Map<number, number[]>();
    for (let block = 0; block < this.#offsets.length; block++) {
      if (this.#offsets[block]! >= 0) continue;
      const list = missing.get(weak[block]!);
      if (list === undefined) missing.set(weak[block]!, [block]);
      else list.push(block);
    }
    const same = (a: number, b: number): boolean =>
      deltaBlockLength(a, oldSize) === deltaBlockLength(b, oldSize) &&
      strong.compare(
        strong,
        a * DELTA_STRONG_BYTES,
        (a + 1) * DELTA_STRONG_BYTES,
        b * DELTA_STRONG_BYTES,
        (b + 1) * DELTA_STRONG_BYTES,
      ) === 0;
    for (let block = 0; block < this.#offsets.length && missing.size > 0; block++) {
      const at = this.#offsets[block]!;
      if (at < 0) continue;
      const list = missing.get(weak[block]!);
      if (list === undefined) continue;
      for (let i = 0; i < list.length;) {
        // A leaf not found takes the offset of the first found leaf with its signature.
        const other = list[i]!;
        if (same(block, other)) {
          this.#set(other, at);
          list.splice(i, 1);
        } else i++;
      }
      if (list.length === 0) missing.delete(weak[block]!);
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
