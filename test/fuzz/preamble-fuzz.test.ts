import { test } from 'node:test';
import { preambleTarget } from './targets/preamble-target.js';
import { fuzzInTest } from './fuzz-test-run.js';

// Budget: FERRY_FUZZ_MS / FERRY_FUZZ_RUNS / FERRY_FUZZ_SEED (test/fuzz/fuzz-budget.ts); scripts/fuzz.ts for long runs.
test('fuzz: preamble', async (t) => {
  await fuzzInTest(t, preambleTarget(), { ms: 400, runs: 1_000_000 });
});
