import { FerryError } from '../errors/index.js';
import { MAX_CHUNK_COUNT } from './constants.js';

/** A run of `count` consecutive chunk indices starting at `first`, as listed in PUT_ACCEPT (PROTOCOL.md §5.4). */
export interface ChunkRange {
  first: number;
  count: number;
}

/**
 * Collapses ascending chunk indices into maximal ranges (adjacent indices merge). Repeated indices are
 * skipped; a descending or non-integer index throws INTERNAL, since the caller promised sorted input.
 */
export function rangesFromIndices(sortedIndices: Iterable<number>): ChunkRange[] {
  const ranges: ChunkRange[] = [];
  let current: ChunkRange | undefined;
  let previous = -1;
  for (const index of sortedIndices) {
    if (!Number.isSafeInteger(index) || index < 0)
      throw new FerryError('INTERNAL', `invalid chunk index ${index}`);
    if (index < previous)
      throw new FerryError('INTERNAL', `chunk indices not ascending: ${index} after ${previous}`);
    if (index === previous) continue;
    if (current !== undefined && index === current.first + current.count) {
      current.count += 1;
    } else {
      current = { first: index, count: 1 };
      ranges.push(current);
    }
    previous = index;
  }
  return ranges;
}

/** Yields every chunk index the ranges cover, in the ranges' order. Lazy, so huge ranges cost no memory. */
export function* indicesFromRanges(ranges: Iterable<ChunkRange>): Generator<number, void, undefined> {
  for (const { first, count } of ranges) {
    for (let i = 0; i < count; i++) yield first + i;
  }
}

// Bits are kept in lazily allocated pages of 2^16 chunks (8 KiB), so a set over a file of a million chunks
// costs 128 KiB at most, and a sparse set over 2^32-1 chunks costs only the pages it touches.
const PAGE_BITS = 2 ** 16;
const PAGE_WORDS = PAGE_BITS / 32;
const FULL_WORD = 0xffffffff;

function popcount32(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * A compact set of chunk indices in `[0, capacity)`: the chunks a receiver holds or a sender still has to
 * send. Iterates in ascending order and turns itself into PUT_ACCEPT ranges (PROTOCOL.md §5.4).
 * Adding an index outside the capacity throws MESSAGE_MALFORMED, since such an index comes from the peer.
 */
export class ChunkSet implements Iterable<number> {
  readonly #capacity: number;
  readonly #pages = new Map<number, Uint32Array>();
  #count = 0;

  /** `capacity` is the file's chunk count (at most 2^32-1, PROTOCOL.md §5.3). */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > MAX_CHUNK_COUNT) {
      throw new FerryError(
        'INTERNAL',
        `chunk set capacity must be from 0 to ${MAX_CHUNK_COUNT}, got ${capacity}`,
      );
    }
    this.#capacity = capacity;
  }

  /** Builds a set holding every index of `ranges`. */
  static fromRanges(capacity: number, ranges: Iterable<ChunkRange>): ChunkSet {
    const set = new ChunkSet(capacity);
    for (const range of ranges) set.addRange(range.first, range.count);
    return set;
  }

  /** The number of chunk indices the set can hold. */
  get capacity(): number {
    return this.#capacity;
  }

  /** How many indices are in the set. */
  get count(): number {
    return this.#count;
  }

  /** True when `index` is in the set (false for any index outside the capacity). */
  has(index: number): boolean {
    if (!this.#inRange(index)) return false;
    const page = this.#pages.get(Math.floor(index / PAGE_BITS));
    if (page === undefined) return false;
    const bit = index % PAGE_BITS;
    return (((page[bit >>> 5] as number) >>> (bit & 31)) & 1) === 1;
  }

  /** Adds `index`; returns true when it was not in the set before. */
  add(index: number): boolean {
    this.#check(index, 1);
    const page = this.#page(Math.floor(index / PAGE_BITS));
    const bit = index % PAGE_BITS;
    const word = page[bit >>> 5] as number;
    const mask = (1 << (bit & 31)) >>> 0;
    if ((word & mask) !== 0) return false;
    page[bit >>> 5] = word | mask;
    this.#count += 1;
    return true;
  }

  /** Adds the `count` indices from `first` on, a whole 32-index word at a time where it can. */
  addRange(first: number, count: number): void {
    this.#check(first, count);
    const end = first + count;
    let index = first;
    while (index < end) {
      if (index % 32 === 0 && end - index >= 32) {
        const page = this.#page(Math.floor(index / PAGE_BITS));
        const w = (index % PAGE_BITS) >>> 5;
        this.#count += 32 - popcount32(page[w] as number);
        page[w] = FULL_WORD;
        index += 32;
      } else {
        this.add(index);
        index += 1;
      }
    }
  }

  /**
   * True when every index from `first` on for `count` is in the set (the empty range too), a whole 32-index
   * word at a time where it can: a held claim of a 1 GiB file names 16,384 leaves (issue 16).
   */
  hasRange(first: number, count: number): boolean {
    if (count === 0) return true;
    if (!this.#inRange(first) || !this.#inRange(first + count - 1)) return false;
    const end = first + count;
    let index = first;
    while (index < end) {
      if (index % 32 === 0 && end - index >= 32) {
        const page = this.#pages.get(Math.floor(index / PAGE_BITS));
        if (page?.[(index % PAGE_BITS) >>> 5] !== FULL_WORD) return false;
        index += 32;
      } else {
        if (!this.has(index)) return false;
        index += 1;
      }
    }
    return true;
  }

  /** The indices of this set that `other` does not hold, as a new set of this capacity, a word at a time. */
  without(other: ChunkSet): ChunkSet {
    const rest = new ChunkSet(this.#capacity);
    for (const [key, page] of this.#pages) {
      const theirs = other.#pages.get(key);
      const words = new Uint32Array(PAGE_WORDS);
      let count = 0;
      for (let w = 0; w < PAGE_WORDS; w++) {
        const word = theirs === undefined ? page[w]! : (page[w]! & ~theirs[w]!) >>> 0;
        words[w] = word;
        if (word !== 0) count += popcount32(word);
      }
      if (count === 0) continue;
      rest.#pages.set(key, words);
      rest.#count += count;
    }
    return rest;
  }

  /** Removes `index`; returns true when it was in the set. */
  delete(index: number): boolean {
    if (!this.#inRange(index)) return false;
    const page = this.#pages.get(Math.floor(index / PAGE_BITS));
    if (page === undefined) return false;
    const bit = index % PAGE_BITS;
    const word = page[bit >>> 5] as number;
    const mask = (1 << (bit & 31)) >>> 0;
    if ((word & mask) === 0) return false;
    page[bit >>> 5] = (word & ~mask) >>> 0;
    this.#count -= 1;
    return true;
  }

  /** The set as maximal ascending ranges, ready for PUT_ACCEPT (PROTOCOL.md §5.4). */
  ranges(): ChunkRange[] {
    const ranges: ChunkRange[] = [];
    let current: ChunkRange | undefined;
    const extend = (start: number, length: number): void => {
      if (current !== undefined && current.first + current.count === start) {
        current.count += length;
      } else {
        current = { first: start, count: length };
        ranges.push(current);
      }
    };
    for (const [base, page] of this.#sortedPages()) {
      for (let w = 0; w < PAGE_WORDS; w++) {
        const word = page[w] as number;
        if (word === 0) continue;
        const wordBase = base + w * 32;
        if (word === FULL_WORD) {
          extend(wordBase, 32);
          continue;
        }
        for (let b = 0; b < 32; b++) {
          if (((word >>> b) & 1) === 1) extend(wordBase + b, 1);
        }
      }
    }
    return ranges;
  }

  /** Yields the indices in ascending order. */
  *[Symbol.iterator](): Iterator<number> {
    for (const [base, page] of this.#sortedPages()) {
      for (let w = 0; w < PAGE_WORDS; w++) {
        const word = page[w] as number;
        if (word === 0) continue;
        for (let b = 0; b < 32; b++) {
          if (((word >>> b) & 1) === 1) yield base + w * 32 + b;
        }
      }
    }
  }

  #sortedPages(): [number, Uint32Array][] {
    return [...this.#pages.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([key, page]) => [key * PAGE_BITS, page]);
  }

  #page(key: number): Uint32Array {
    let page = this.#pages.get(key);
    if (page === undefined) {
      page = new Uint32Array(PAGE_WORDS);
      this.#pages.set(key, page);
    }
    return page;
  }

  #inRange(index: number): boolean {
    return Number.isInteger(index) && index >= 0 && index < this.#capacity;
  }

  #check(first: number, count: number): void {
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0) {
      throw new FerryError('MESSAGE_MALFORMED', `invalid chunk range first ${first} count ${count}`);
    }
    if (first + count > this.#capacity) {
      throw new FerryError(
        'MESSAGE_MALFORMED',
        `chunks ${first} to ${first + count - 1} out of range for ${this.#capacity} chunks`,
      );
    }
  }
}
