import { LEAF_BYTES, type DeltaLeafSources, type DeltaMatcher } from '../protocol/index.js';
import type { LeafHashesAhead } from '../transfer/index.js';
import type { FoundLeaves } from './found-leaves.js';
import type { OldLeafTables } from './old-leaf-tables.js';
import type { ScanHashesAhead } from './scan-hashes-ahead.js';
import type { WriteThroughGate } from './write-through-gate.js';

/** What {@link WrittenThroughLeaves} reads and marks: the parts of one delta download's scan it works with. */
export interface WrittenThroughScan {
  /** Where the leaf hash thread writes through, and how far (its hashing in place, while the scan lets it). */
  readonly gate: {
    readonly hashing:
      Pick<LeafHashesAhead, 'hashedThrough' | 'hashes' | 'writtenThrough' | 'writtenLeaves'> | undefined;
    readonly endLeaves: WriteThroughGate['endLeaves'];
  };
  /** The old file's leaf hashes, vouched for by an identity check after their read. */
  readonly tables: Pick<OldLeafTables, 'afterRead'>;
  /** The server's leaves known so far, and where the next scan starts looking. */
  readonly matcher: Pick<DeltaMatcher, 'knownBlocks' | 'holdsLeaf' | 'foundWithoutScan'>;
  /** The signature's blocks: the matcher knows them all once it is whole. */
  readonly totalBlocks: number;
  /** The leaves taken, in place and placed. */
  readonly found: Pick<FoundLeaves, 'takeWrittenThrough'>;
  /** Where each of the server's leaves comes from. */
  readonly sources: Pick<DeltaLeafSources, 'add'>;
  /** The phase the scans follow (undefined or 0: the leaf boundaries). */
  readonly hashesAhead: Pick<ScanHashesAhead, 'phase'>;
}

/**
 * Takes the leaves a delta download's leaf hash thread wrote through into the partial where they lie
 * (`hashInPlace`, WriteThroughGate) instead of reading and scanning them: a leaf is taken when the thread's
 * write of it landed, its hash (taken by the thread over the very bytes it wrote, and vouched for by the old
 * file's identity checked after that, as every in-place hash is) is the server's leaf there, and the scan has
 * not taken it already. Taken leaves are found in place and placed, counted as the scan's own once the file
 * is known to differ (`FoundLeaves.takeWrittenThrough`).
 *
 * It also says where the leaves in place from a point on are an edit (`editedInPlace`), by the same parts.
 *
 * Apart from the scan's loop (`takeLeaves`) because it is a rule of its own, between the thread's state, the
 * old file's identity and the matcher: as a closure there it could only be read with the whole scan around
 * it. It holds no state; the scan's parts are the ones it reads and marks.
 */
export class WrittenThroughLeaves {
  readonly #scan: WrittenThroughScan;

  constructor(scan: WrittenThroughScan) {
    this.#scan = scan;
  }

  /**
   * Takes the leaves from `from` (a leaf boundary, at the phase in place) up to `to` that the thread wrote
   * through; returns how many it took, from `from` on without a gap. None: the scan reads and scans from
   * `from` as without the thread. The caller has the taken leaves accepted (`FoundLeaves.acceptLanded`).
   */
  async take(from: number, to: number): Promise<number> {
    const { gate, tables, matcher, found, sources } = this.#scan;
    const hashing = this.#inPlaceAt(from);
    if (hashing === undefined) return 0;
    const first = from / LEAF_BYTES;
    const end = Math.min(Math.ceil(to / LEAF_BYTES), gate.endLeaves, matcher.knownBlocks);
    if (end <= first) return 0;
    // A first leaf that is not the server's (an edit) is taken by no check: none is asked for it, and the
    // scan reads from here without waiting for the thread to write a batch past it.
    await hashing.hashedThrough(first + 1);
    const firstHash = hashing.hashes.get(first);
    if (firstHash !== undefined && !matcher.holdsLeaf(first, firstHash)) return 0;
    await hashing.writtenThrough(end);
    // The identity check after the thread's writes up to `end` landed: it vouches for the hashes it took.
    const table = await tables.afterRead(end * LEAF_BYTES);
    if (table === undefined || table.stored) return 0;
    const last = Math.min(end, table.through, hashing.writtenLeaves);
    let block = first;
    while (block < last && matcher.holdsLeaf(block, table.hashes.get(block)!)) block++;
    const count = block > first ? found.takeWrittenThrough(first, block - first, table.hashes) : 0;
    if (count === 0) return 0;
    matcher.foundWithoutScan(first + count - 1);
    sources.add([{ newOffset: from, length: count * LEAF_BYTES, oldOffset: from }]);
    return count;
  }

  /**
   * How many leaves from `from` (a leaf boundary, at the phase in place) are not the server's there while a
   * leaf after them, within `withinLeaves` leaves, is (by the thread's hashes): an edit in place, which the
   * caller rolls over only once the signature is whole, taking the leaves after it as written through. Scanned
   * with part of the signature, it was rolled twice (issue 16: 6.2 million offsets for 3 MiB rewritten, ~30
   * ms of a cold 1 GiB download's main thread). None (0) once the signature is whole (the scan rolls it
   * once), or where a leaf in that span is not hashed (the thread stopped or failed: the scan reads).
   */
  async editedInPlace(from: number, withinLeaves: number): Promise<number> {
    const { gate, matcher, totalBlocks } = this.#scan;
    const hashing = this.#inPlaceAt(from);
    if (hashing === undefined || matcher.knownBlocks === totalBlocks) return 0;
    const first = from / LEAF_BYTES;
    const end = Math.min(first + withinLeaves, gate.endLeaves, matcher.knownBlocks);
    if (end <= first + 1) return 0;
    await hashing.hashedThrough(end);
    for (let block = first; block < end; block++) {
      const hash = hashing.hashes.get(block);
      if (hash === undefined) return 0;
      if (matcher.holdsLeaf(block, hash)) return block - first;
    }
    return 0;
  }

  /** The thread's hashing in place, when `from` is where it hashed (a leaf boundary, at the phase in place). */
  #inPlaceAt(from: number): WrittenThroughScan['gate']['hashing'] {
    const hashing = this.#scan.gate.hashing;
    if (hashing === undefined || from % LEAF_BYTES !== 0 || (this.#scan.hashesAhead.phase ?? 0) !== 0)
      return undefined;
    return hashing;
  }
}
