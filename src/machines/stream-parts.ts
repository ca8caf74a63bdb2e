import { ChunkSet } from '../protocol/index.js';

/**
 * Per joined stream, the chunks it verified (PROTOCOL.md §5.13.6): a download stripe's GET_END names the held
 * digest over exactly those, so a stripe vouches for no chunk another stream sent. A stream's chunks are
 * forgotten at its end or when its session closes.
 */
export class StreamParts {
  readonly #count: number;
  readonly #byStream = new Map<unknown, ChunkSet>();

  /** For a file of `count` chunks. */
  constructor(count: number) {
    this.#count = count;
  }

  /** `stream` verified chunk `index`. */
  verified(stream: unknown, index: number): void {
    let mine = this.#byStream.get(stream);
    if (!mine) this.#byStream.set(stream, (mine = new ChunkSet(this.#count)));
    mine.add(index);
  }

  /** The chunks `stream` verified (an empty set for none), forgotten here: its end came. */
  take(stream: unknown): ChunkSet {
    const mine = this.#byStream.get(stream) ?? new ChunkSet(this.#count);
    this.#byStream.delete(stream);
    return mine;
  }

  /** Forgets `stream`'s chunks: it ended without a digest to check (its session closed, a chunk left open). */
  forget(stream: unknown): void {
    this.#byStream.delete(stream);
  }
}
