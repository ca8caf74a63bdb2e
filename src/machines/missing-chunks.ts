import type { ChunkSet } from '../protocol/index.js';

/**
 * The chunks of a file that `held` does not hold, in index order (`held.capacity` is the file's chunk count):
 * what a sender still has to send (PROTOCOL.md §5.5, §5.11.2). Lazy, and one cursor when several streams take
 * from it (§5.13.3).
 */
export function* missingChunks(held: ChunkSet, keep?: (index: number) => boolean): Generator<number> {
  for (let index = 0; index < held.capacity; index++) {
    if (!held.has(index) && (keep === undefined || keep(index))) yield index;
  }
}
