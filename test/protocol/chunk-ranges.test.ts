import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FerryError } from '../../src/errors/index.js';
import {
  ChunkSet,
  MAX_CHUNK_COUNT,
  indicesFromRanges,
  rangesFromIndices,
  type ChunkRange,
} from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';

test('`rangesFromIndices` merges adjacent indices into maximal ranges', () => {
  assert.deepEqual(rangesFromIndices([]), []);
  assert.deepEqual(rangesFromIndices([0, 1, 2, 5, 7, 8]), [
    { first: 0, count: 3 },
    { first: 5, count: 1 },
    { first: 7, count: 2 },
  ]);
  assert.deepEqual(rangesFromIndices([3, 3, 4]), [{ first: 3, count: 2 }]);
  assert.throws(() => rangesFromIndices([2, 1]), FerryError);
});

test('`indicesFromRanges` yields every index in order', () => {
  assert.deepEqual(
    [
      ...indicesFromRanges([
        { first: 2, count: 3 },
        { first: 9, count: 1 },
      ]),
    ],
    [2, 3, 4, 9],
  );
});

test('`ChunkSet` ranges round trip through indices and back for seeded random sets', () => {
  const random = new SeededRandom(11);
  for (let round = 0; round < 50; round++) {
    const capacity = random.int(1, 200_000);
    const set = new ChunkSet(capacity);
    const expected = new Set<number>();
    const density = random.next();
    for (let i = 0; i < 2000; i++) {
      const index = random.int(0, capacity - 1);
      if (random.next() < density) {
        assert.equal(set.add(index), !expected.has(index));
        expected.add(index);
      } else {
        assert.equal(set.delete(index), expected.has(index));
        expected.delete(index);
      }
    }
    const sorted = [...expected].sort((a, b) => a - b);
    assert.equal(set.count, expected.size);
    assert.deepEqual([...set], sorted);
    const ranges = set.ranges();
    assert.deepEqual(ranges, rangesFromIndices(sorted));
    assert.deepEqual([...indicesFromRanges(ranges)], sorted);
    assert.deepEqual(ChunkSet.fromRanges(capacity, ranges).ranges(), ranges);
  }
});

test('`ChunkSet.addRange` fills whole words and counts only new indices', () => {
  const set = new ChunkSet(1000);
  set.add(40);
  set.addRange(3, 200);
  assert.equal(set.count, 200);
  assert.deepEqual(set.ranges(), [{ first: 3, count: 200 }]);
  set.addRange(203, 797);
  assert.equal(set.count, 997);
  assert.equal(set.has(999), true);
  assert.equal(set.has(2), false);
  assert.equal(set.delete(64), true);
  assert.deepEqual(set.ranges(), [
    { first: 3, count: 61 },
    { first: 65, count: 935 },
  ]);
});

test('`ChunkSet` spans pages and stays sparse for a huge capacity', () => {
  const set = new ChunkSet(MAX_CHUNK_COUNT);
  const indices = [0, 65_535, 65_536, 65_537, 2 ** 31, MAX_CHUNK_COUNT - 1];
  for (const index of [...indices].reverse()) set.add(index);
  assert.deepEqual([...set], indices);
  const expected: ChunkRange[] = [
    { first: 0, count: 1 },
    { first: 65_535, count: 3 },
    { first: 2 ** 31, count: 1 },
    { first: MAX_CHUNK_COUNT - 1, count: 1 },
  ];
  assert.deepEqual(set.ranges(), expected);
});

test('`ChunkSet` refuses indices outside its capacity with MESSAGE_MALFORMED', () => {
  const set = new ChunkSet(10);
  const isMalformed = (err: unknown): boolean =>
    err instanceof FerryError && err.code === 'MESSAGE_MALFORMED';
  assert.throws(() => set.add(10), isMalformed);
  assert.throws(() => set.add(-1), isMalformed);
  assert.throws(() => set.addRange(5, 6), isMalformed);
  assert.equal(set.has(10), false);
  assert.equal(set.delete(10), false);
  assert.equal(new ChunkSet(0).ranges().length, 0);
});

test('`ChunkSet.hasRange` and `ChunkSet.without` agree with index-by-index answers for seeded random sets', () => {
  const random = new SeededRandom(16);
  for (let round = 0; round < 60; round++) {
    const capacity = random.int(1, 140_000);
    const a = new ChunkSet(capacity);
    const b = new ChunkSet(capacity);
    // Dense runs (whole words) and scattered indices, so both the word-wise and the bit-wise paths are taken.
    for (let i = 0; i < 20; i++) {
      const first = random.int(0, capacity - 1);
      a.addRange(first, random.int(0, Math.min(3000, capacity - first)));
      const other = random.int(0, capacity - 1);
      b.addRange(other, random.int(0, Math.min(3000, capacity - other)));
    }
    for (let i = 0; i < 300; i++) {
      a.delete(random.int(0, capacity - 1));
      b.add(random.int(0, capacity - 1));
    }
    const rest = a.without(b);
    assert.equal(rest.capacity, capacity);
    assert.deepEqual(
      [...rest],
      [...a].filter((index) => !b.has(index)),
    );
    assert.equal(rest.count, [...rest].length);
    for (let i = 0; i < 50; i++) {
      const first = random.int(0, capacity - 1);
      const count = random.int(0, Math.min(random.next() < 0.5 ? 40 : 5000, capacity - first));
      let all = true;
      for (let index = first; index < first + count && all; index++) all = a.has(index);
      assert.equal(a.hasRange(first, count), all, `hasRange(${first}, ${count})`);
    }
    for (const { first, count } of a.ranges()) assert.ok(a.hasRange(first, count));
  }
});

test('`ChunkSet.hasRange` is true for an empty range and false for one past the capacity', () => {
  const set = ChunkSet.fromRanges(64, [{ first: 0, count: 64 }]);
  assert.equal(set.hasRange(10, 0), true);
  assert.equal(set.hasRange(0, 64), true);
  assert.equal(set.hasRange(32, 33), false);
  assert.equal(new ChunkSet(0).without(set).count, 0);
});
