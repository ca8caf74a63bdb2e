import { test } from 'node:test';
import { frameDecoderTarget } from './targets/frame-decoder-target.js';
import { fuzzInTest } from './fuzz-test-run.js';

// Budget: FERRY_FUZZ_MS / FERRY_FUZZ_RUNS / FERRY_FUZZ_SEED (test/fuzz/fuzz-budget.ts); scripts/fuzz.ts for long runs.
test('fuzz: frame-decoder', async (t) => {
  await fuzzInTest(t, frameDecoderTarget(), { ms: 400, runs: 1_000_000 });
});
