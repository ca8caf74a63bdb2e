// missingChunks: the chunks a sender still has to send, stepping over the held runs whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { missingChunks } from '../../src/machines/missing-chunks.js';
import { ChunkSet } from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';

test('missingChunks yields every index not held, in order, that `keep` keeps, for seeded random sets', () => {
  const random = new SeededRandom(44);
  for (let round = 0; round < 40; round++) {
    const capacity = random.int(0, 20_000);
    const held = new ChunkSet(capacity);
    for (let i = 0; i < 10 && capacity > 0; i++) {
      const first = random.int(0, capacity - 1);
      held.addRange(first, random.int(0, Math.min(4000, capacity - first)));
    }
    const all = Array.from({ length: capacity }, (_, i) => i).filter((i) => !held.has(i));
    assert.deepEqual([...missingChunks(held)], all);
    const stripes = random.int(1, 4);
    assert.deepEqual(
      [...missingChunks(held, (i) => i % stripes === 0)],
      all.filter((i) => i % stripes === 0),
    );
  }
});
