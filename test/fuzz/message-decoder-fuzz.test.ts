import { test } from 'node:test';
import { messageDecoderTarget } from './targets/message-decoder-target.js';
import { fuzzInTest } from './fuzz-test-run.js';

// Budget: FERRY_FUZZ_MS / FERRY_FUZZ_RUNS / FERRY_FUZZ_SEED (test/fuzz/fuzz-budget.ts); scripts/fuzz.ts for long runs.
test('fuzz: message-decoder', async (t) => {
  await fuzzInTest(t, messageDecoderTarget(), { ms: 400, runs: 1_000_000 });
});
