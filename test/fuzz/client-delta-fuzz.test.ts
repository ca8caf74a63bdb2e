// Fuzz target (f) in the normal test run: a real client's delta downloads against a hostile relay in front of a
// real server (targets/client-delta-target.ts), a few dozen inputs with a fresh seed (printed).
import { test } from 'node:test';
import { ClientDeltaFuzzTarget } from './targets/client-delta-target.js';
import { fuzzInTest } from './fuzz-test-run.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('fuzz: a hostile server never makes a delta download keep unvouched bytes, fail uncoded or touch the old file', async (t) => {
  const work = await makeTempDir('ferry-fuzz-client-delta-');
  t.after(() => removeTempDir(work));
  const target = await ClientDeltaFuzzTarget.start({ workDir: work });
  await fuzzInTest(t, target, { ms: 4000, runs: 200 });
});
