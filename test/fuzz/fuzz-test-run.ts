import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { fuzzBudget, inputSeed } from './fuzz-budget.js';
import { describeReport, replayOf, runFuzz, type FuzzReport, type FuzzTarget } from './run-fuzz.js';

/**
 * An input running longer than this is named on stderr (its index, seed and replay), once: the test may yet
 * run into the runner's file timeout (300 s), and its report, printed at the end, would be lost with it.
 */
const STUCK_INPUT_MS = 30_000;

/**
 * Runs a fuzz target inside a node:test test with the budget from the environment (or the small defaults
 * given). The seed is printed at the start (stderr and a diagnostic), so a run that never reports can still
 * be replayed; so is an input still running after STUCK_INPUT_MS. Fails with the replay hint if any property
 * broke, or if the target's close fails (a relay target's server with a session that never ended).
 */
export async function fuzzInTest(
  t: TestContext,
  target: FuzzTarget,
  defaults: { ms: number; runs: number },
  options: {
    /** Default STUCK_INPUT_MS. */
    stuckInputMs?: number;
    /** Where the start and a stuck input are told; default stderr (the runner shows it as it comes). */
    say?: (line: string) => void;
  } = {},
): Promise<FuzzReport> {
  const stuckInputMs = options.stuckInputMs ?? STUCK_INPUT_MS;
  const say = options.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const budget = fuzzBudget(defaults);
  const start = `${target.name}: seed ${budget.seed}, from input ${budget.from ?? 0}, up to ${budget.runs} inputs in ${budget.ms} ms (replay: FERRY_FUZZ_SEED=${budget.seed})`;
  say(start);
  t.diagnostic(start);
  let running: { index: number; since: number } | undefined;
  const watchdog = setInterval(
    () => {
      if (running === undefined || Date.now() - running.since < stuckInputMs) return;
      const { index } = running;
      running = undefined; // named once
      const doing = target.describeRunning?.();
      say(
        `${target.name}: input ${index} (input seed ${inputSeed(budget.seed, index)}) still running after ${stuckInputMs} ms (replay: ${replayOf(budget.seed, index)})${doing ? `; ${doing}` : ''}`,
      );
    },
    Math.min(1000, stuckInputMs),
  );
  // Not unref'd: an input stuck with nothing else alive keeps the process until the runner's timeout, told.
  let report: FuzzReport | undefined;
  try {
    report = await runFuzz(target, budget, {
      onInput: (index) => (running = { index, since: Date.now() }),
    });
  } finally {
    clearInterval(watchdog);
    // A close that fails (or hangs) must not hide what the run found: it is reported first.
    if (report !== undefined && report.failures.length > 0) say(describeReport(report));
    await target.close?.();
  }
  t.diagnostic(`${describeReport(report)} ${JSON.stringify(report.stats)}`);
  assert.equal(report.failures.length, 0, describeReport(report));
  assert.ok(report.inputs > 0, `${target.name}: no input ran`);
  return report;
}
