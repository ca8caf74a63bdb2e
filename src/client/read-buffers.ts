import {
  inWeakChecksumMemory,
  releaseWeakChecksumBuffer,
  takeWeakChecksumBuffer,
} from '../protocol/index.js';
import { DIRECT_ALIGN_BYTES } from '../transfer/index.js';

/** Read buffers of one old-file scan: the one scanned, the one read ahead, and one whose writes settle. */
const READ_BUFFERS = 3;

/**
 * Three read buffers taken in turn, so reading the old file allocates nothing after the first rounds (a
 * fresh few-MiB buffer per read was a large part of a delta download's CPU, in collections and page
 * faults). The partial's writes hold a buffer until they reach the file: a buffer written from is reused
 * only after they landed (its own, once the caller says they were all handed over, `done`). Those writes
 * are the scan's pace: a 1 GiB WARM download's reads waited 0.49-1.04 s of its 1.2-1.6 s scan for them to
 * land, with five buffers as with three (0.63-0.96 s; stop 35, 3 runs each): the disk writes the new file
 * (1 GiB direct in 0.96-1.08 s here), so more buffers only queue more writes.
 */
export class ReadBuffers {
  readonly #landed: () => Promise<void>;
  readonly #bytes: number;
  readonly #buffers: Buffer[] = [];
  readonly #dirty = new Set<ArrayBufferLike>();
  /** Of the dirty buffers, those whose writes were all handed over: when those writes have landed. */
  readonly #doneWrites = new Map<ArrayBufferLike, Promise<void>>();
  #turn = 0;

  /** `landed` resolves once every write handed a buffer so far has landed. */
  constructor(landed: () => Promise<void>, bytes: number) {
    this.#landed = landed;
    this.#bytes = bytes;
  }

  /** The next buffer, `bytes` long (at most the size given at construction), free of pending writes. */
  async take(bytes: number): Promise<Buffer> {
    if (bytes > this.#bytes) throw new RangeError('a read larger than the buffers');
    const i = this.#turn++ % READ_BUFFERS;
    // Shared memory, so the leaf hash thread reads a piece in place (`ScanHashesAhead`); from the weak
    // checksum's slabs where it has room: page-aligned (its leaves may be written around the page cache,
    // `alignedForDirect`) and summed in place.
    const buffer = (this.#buffers[i] ??= takeWeakChecksumBuffer(this.#bytes));
    if (this.#dirty.has(buffer.buffer)) {
      // Its own writes when they were all handed over (`done`), else every write so far.
      await (this.#doneWrites.get(buffer.buffer) ?? this.#landed());
      this.#dirty.delete(buffer.buffer);
      this.#doneWrites.delete(buffer.buffer);
    }
    return buffer.subarray(0, bytes);
  }

  /**
   * Gives the buffers back (the slabs to the next scan); the caller has let every write from them land
   * (`landed`). Idempotent.
   */
  release(): void {
    for (const buffer of this.#buffers.splice(0)) releaseWeakChecksumBuffer(buffer);
  }

  /** Notes that `view` (of a buffer from `take`) is handed to the partial's writes. */
  written(view: Uint8Array): void {
    this.#dirty.add(view.buffer);
    // A write handed over after `done`: its landing is no longer what `done` was given.
    this.#doneWrites.delete(view.buffer);
  }

  /**
   * Every write from `view`'s buffer has been handed over, and `landed` resolves once they have landed (a
   * snapshot of the writes in flight now, taken by the caller): the buffer is read into again once that
   * resolves, not once every later write has landed too (issue 16: the read of a window waited for the
   * writes of the window before it, so reading and writing the partial took turns). Nothing to wait for if
   * it was not written from.
   */
  done(view: Uint8Array, landed: Promise<unknown>): void {
    if (!this.#dirty.has(view.buffer)) return;
    const settled = landed.then(() => undefined);
    settled.catch(() => undefined); // awaited by the next take of this buffer, if any: not unhandled
    this.#doneWrites.set(view.buffer, settled);
  }
}

/**
 * Whether `leaf` (a view of a buffer from `take`) may be written around the page cache: in a slab, whose
 * start is page-aligned, at an offset aligned for direct I/O (a window after an edit may start anywhere).
 */
export function alignedForDirect(leaf: Buffer): boolean {
  return inWeakChecksumMemory(leaf) && leaf.byteOffset % DIRECT_ALIGN_BYTES === 0;
}
