// Fuzz target (e) in the normal test run: a real server in a child process, hostile connections over
// loopback, then the checks that need the whole run (sessions drained, memory bounded, honest upload works).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzBudget } from './fuzz-budget.js';
import { describeReport, runFuzz } from './run-fuzz.js';
import { ServerFuzzTarget } from './targets/server-target.js';
import { verifyServerAfterFuzz } from './verify-server-after-fuzz.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('fuzz: server over real sockets never crashes, hangs or leaks, and still serves an honest upload', async (t) => {
  const work = await makeTempDir('ferry-fuzz-server-');
  const target = await ServerFuzzTarget.start({ workDir: work });
  t.after(async () => {
    await target.close();
    await removeTempDir(work);
  });
  const report = await runFuzz(target, fuzzBudget({ ms: 2000, runs: 1_000_000 }), { slowInputMs: 30_000 });
  t.diagnostic(`${describeReport(report)} ${JSON.stringify(report.stats)}`);
  assert.equal(report.failures.length, 0, describeReport(report));
  const after = await verifyServerAfterFuzz(target, work);
  t.diagnostic(JSON.stringify(after));
});
