import type { ChunkSet } from '../protocol/index.js';

/**
 * The chunks of a file that `held` does not hold, in index order (`held.capacity` is the file's chunk count):
 * what a sender still has to send (PROTOCOL.md §5.5, §5.11.2). Lazy, and one cursor when several streams take
 * from it (§5.13.3). It steps over `held`'s runs whole (as they were when it started), not chunk by chunk: a
 * delta's claim holds all but a few of 16,384 leaves (issue 16).
 */
export function* missingChunks(held: ChunkSet, keep?: (index: number) => boolean): Generator<number> {
  let index = 0;
  for (const { first, count } of held.ranges()) {
    for (; index < first; index++) if (keep === undefined || keep(index)) yield index;
    index = first + count;
  }
  for (; index < held.capacity; index++) if (keep === undefined || keep(index)) yield index;
}
