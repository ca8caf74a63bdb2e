import { LEAF_BYTES, chunkLength, type KnownLeafHash } from '../protocol/index.js';
import type { ChunkSource } from './chunk-source.js';
import { LEAF_HASH_THREAD } from './leaf-hash-thread.js';
import type { StreamDeltaOptions } from './stream-delta-options.js';

/** A chunk's window being read (`streamDeltaChunks`), and its leaves hashed ahead once read. */
export interface WindowRead {
  readonly chunk: number;
  readonly window: Buffer;
  /**
   * The chunk's leaf hashes (taken ahead) when every leaf of it is found in place by its hash alone: it is
   * then not read (`read` resolves without reading, and nothing is hashed ahead).
   */
  readonly inPlace: Promise<Buffer[] | undefined>;
  readonly read: Promise<void>;
  /** Whether its read started (it starts once `inPlace` said no, unless the stream failed meanwhile). */
  readStarted(): boolean;
  /** Its leaves at the last match's phase, off the boundaries (`ScanAhead`). */
  readonly known: Promise<KnownLeafHash | undefined>;
  /** Its whole leaves on the boundaries, when the new file's hashes taken ahead do not hold them. */
  readonly boundaries: Promise<Buffer | undefined>;
}

/**
 * Reads the windows of a delta stream's chunks (`streamDeltaChunks`): each chunk with the block after it, so
 * a match that starts in the chunk is seen whole, and its leaves hashed ahead once read, unless the chunk is
 * found in place whole first.
 */
export class DeltaWindowReader {
  readonly #source: ChunkSource;
  readonly #options: StreamDeltaOptions;
  /**
   * Two read buffers, used in turn: a fresh chunk-sized buffer each time was the client's main garbage (a
   * third of its CPU in collections at 256 MiB). Shared memory, so the leaf hash thread reads a window in
   * place. A buffer is read into again only once the chunk read into it two turns before is sent (the sink
   * copies what it sends before it resolves) or kept for later, so every hash taken ahead and every leaf
   * hint noted in it is of the bytes there (the hints are taken by the chunk hash, or forgotten).
   */
  #buffers: Buffer[] | undefined;
  #turn = 0;
  // Only a new file of the old one's size is tried in place, the sign of data changed in place (as the
  // server's placing, `DeltaOldFile`): after an insertion or deletion the old leaves lie elsewhere.
  readonly #sameSize: boolean;
  /**
   * Whether the last chunk scanned ended on a block found in place: the chunks read next are first tried
   * whole in place (`#leavesInPlace`). After an insertion or deletion they are read at once, as before.
   */
  lastInPlace = true;
  /** Set when the stream fails: no window is read from then on (the caller may close the source). */
  failed = false;

  constructor(source: ChunkSource, options: StreamDeltaOptions) {
    this.#source = source;
    this.#options = options;
    this.#sameSize = source.size > 0 && options.matcher.oldSize === source.size;
  }

  /**
   * Starts reading chunk `chunk` with the block after it, and hashing its leaves ahead once read, unless it
   * is found in place whole first. With `scanOnly`, it is not tried in place (a chunk to scan again, or one
   * found in place that must be scanned after all), and read into `scanOnly.into` when given, without
   * taking a buffer's turn.
   */
  read(chunk: number, scanOnly?: { readonly into?: Buffer }): WindowRead {
    const source = this.#source;
    const { chunkBytes, matcher } = this.#options;
    const start = chunk * chunkBytes;
    const end = start + chunkLength(chunk, source.size, chunkBytes);
    const windowEnd = Math.min(source.size, end + matcher.blockBytes - 1);
    const bytes = Math.min(source.size, chunkBytes + matcher.blockBytes - 1);
    const buffers = (this.#buffers ??= [0, 1].map(() => Buffer.from(new SharedArrayBuffer(bytes))));
    const window = scanOnly?.into ?? buffers[this.#turn++ % 2]!.subarray(0, windowEnd - start);
    // A failure while deciding (the signature's) is met again by the scan's own wait for the blocks.
    const inPlace =
      scanOnly === undefined
        ? this.#leavesInPlace(start, end).catch(() => undefined)
        : Promise.resolve(undefined);
    let started = false;
    const wasRead = inPlace.then(async (leaves) => {
      if (leaves !== undefined || this.failed) return false;
      started = true;
      await source.readExactly(window, 0, window.length, start);
      return true;
    });
    const read = wasRead.then(() => undefined);
    // At the phase known when the read lands; leaves on the boundaries are `ahead`'s (`knownLeaves`) or
    // hashed here: the hashing ahead stops once the signature is whole (`LeafHashesAhead.stop`), and the
    // chunks past it were hashed on this thread (issue 16: most of an insertion's client CPU).
    const known = wasRead.then((was) => {
      const scanAhead = this.#options.scanAhead;
      const phase = scanAhead?.phase;
      return !was || phase === undefined || phase === 0 ? undefined : scanAhead!.start(window, start, end);
    });
    const boundaries = wasRead.then((was) => {
      if (!was) return undefined;
      const ahead = this.#options.ahead;
      if (ahead?.hashes.has(start / LEAF_BYTES)) return undefined;
      // The scan has caught up with the hashing ahead: from here on the scan's own reads are hashed, and
      // the hashing ahead would only hash the same leaves again.
      void ahead?.stop();
      return LEAF_HASH_THREAD.wholeLeaves(window.subarray(0, end - start));
    });
    // Awaited by the scan; one left behind by a failure or an abort must not go unhandled.
    read.catch(() => undefined);
    known.catch(() => undefined);
    boundaries.catch(() => undefined);
    return { chunk, window, inPlace, read, readStarted: () => started, known, boundaries };
  }

  /**
   * The leaf hashes of chunk `[start, end)` taken ahead (`options.ahead`) when every one of them is the
   * signature's block at the same offset: the chunk is then one copy in place, known without reading or
   * scanning it (issue 16: a file changed in place was read twice, once ahead and once by the scan, and
   * every chunk scanned). Waits for the blocks of the chunk and for the hashing ahead to reach it (the one
   * hashing of those bytes either way). Undefined otherwise: it is read and scanned.
   */
  async #leavesInPlace(start: number, end: number): Promise<Buffer[] | undefined> {
    const { ahead, matcher, arriving } = this.#options;
    if (ahead === undefined || !this.#sameSize || !this.lastInPlace || matcher.blockBytes !== LEAF_BYTES)
      return undefined;
    if (start % LEAF_BYTES !== 0 || end % LEAF_BYTES !== 0) return undefined;
    const first = start / LEAF_BYTES;
    const last = end / LEAF_BYTES;
    if (arriving && matcher.knownBlocks < last)
      matcher.extend(Math.max(matcher.knownBlocks, await arriving.waitFor(last)));
    if (matcher.knownBlocks < last) return undefined;
    await ahead.hashedThrough(last);
    const leaves: Buffer[] = [];
    for (let leaf = first; leaf < last; leaf++) {
      const hash = ahead.hashes.get(leaf);
      if (hash === undefined || !matcher.holdsLeaf(leaf, hash)) return undefined;
      leaves.push(hash);
    }
    return leaves;
  }
}
