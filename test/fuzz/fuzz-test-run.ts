import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { fuzzBudget } from './fuzz-budget.js';
import { describeReport, runFuzz, type FuzzReport, type FuzzTarget } from './run-fuzz.js';

/**
 * Runs a fuzz target inside a node:test test with the budget from the environment (or the small defaults
 * given), reports the seed and figures as a diagnostic, and fails with the replay hint if any property broke.
 */
export async function fuzzInTest(
  t: TestContext,
  target: FuzzTarget,
  defaults: { ms: number; runs: number },
): Promise<FuzzReport> {
  const budget = fuzzBudget(defaults);
  let report: FuzzReport;
  try {
    report = await runFuzz(target, budget);
  } finally {
    await target.close?.();
  }
  t.diagnostic(`${describeReport(report)} ${JSON.stringify(report.stats)}`);
  assert.equal(report.failures.length, 0, describeReport(report));
  assert.ok(report.inputs > 0, `${target.name}: no input ran`);
  return report;
}
