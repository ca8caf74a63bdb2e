import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { DEFAULT_THREADS, defaultThreadsFor } from '../../../src/transfer/index.js';

test("the default thread count: 1 below 4 cores (measured), then one per core but the event loop's, at most 4", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 8, 64].map(defaultThreadsFor), [1, 1, 1, 3, 4, 4, 4, 4]);
  assert.equal(defaultThreadsFor(Number.NaN), 1);
  assert.equal(DEFAULT_THREADS, defaultThreadsFor(availableParallelism()));
});
