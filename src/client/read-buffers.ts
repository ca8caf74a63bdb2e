/** Read buffers of one old-file scan: the one scanned, the one read ahead, and one whose writes settle. */
const READ_BUFFERS = 3;

/**
 * Three read buffers taken in turn, so reading the old file allocates nothing after the first rounds (a
 * fresh few-MiB buffer per read was a large part of a delta download's CPU, in collections and page
 * faults). The partial's writes hold a buffer until they reach the file: a buffer written from is reused
 * only after they landed, which by then (two reads later) has usually nothing left to wait for.
 */
export class ReadBuffers {
  readonly #landed: () => Promise<void>;
  readonly #bytes: number;
  readonly #buffers: Buffer[] = [];
  readonly #dirty = new Set<ArrayBufferLike>();
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
    // Shared memory, so the leaf hash thread reads a piece in place (`ScanHashesAhead`).
    const buffer = (this.#buffers[i] ??= Buffer.from(new SharedArrayBuffer(this.#bytes)));
    if (this.#dirty.has(buffer.buffer)) {
      await this.#landed();
      this.#dirty.delete(buffer.buffer);
    }
    return buffer.subarray(0, bytes);
  }

  /** Notes that `view` (of a buffer from `take`) is handed to the partial's writes. */
  written(view: Uint8Array): void {
    this.#dirty.add(view.buffer);
  }
}
