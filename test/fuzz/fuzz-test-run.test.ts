// fuzzInTest tells a run's seed when it starts and names an input still running past its bound (with the
// target's own account of what it is doing), so a run that never reports (the runner's file timeout) can be
// replayed: stop 40 lost the seed of a relay fuzz run that hung.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzzInTest } from './fuzz-test-run.js';
import type { FuzzTarget } from './run-fuzz.js';

test('fuzzInTest tells the seed at the start and names an input still running past its bound, then reports', async (t) => {
  const said: string[] = [];
  let release: () => void = () => undefined;
  let stuckTold: () => void = () => undefined;
  const told = new Promise<void>((resolve) => (stuckTold = resolve));
  // The first input waits until the test has read the report of it as stuck.
  const target: FuzzTarget = {
    name: 'stuck',
    one: (_random, index) =>
      index === 0 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve(),
    describeRunning: () => 'waiting for the test',
  };
  const run = fuzzInTest(
    t,
    target,
    { ms: 60_000, runs: 2 },
    {
      stuckInputMs: 50,
      say: (line) => {
        said.push(line);
        if (line.includes('still running')) stuckTold();
      },
    },
  );
  await told;
  release();
  const report = await run;
  assert.equal(report.inputs, 2);
  assert.match(
    said[0]!,
    new RegExp(`^stuck: seed ${report.seed}, .*\\(replay: FERRY_FUZZ_SEED=${report.seed}\\)$`),
  );
  assert.match(
    said[1]!,
    new RegExp(
      `^stuck: input 0 \\(input seed \\d+\\) still running after 50 ms \\(replay: FERRY_FUZZ_SEED=${report.seed} FERRY_FUZZ_FROM=0 FERRY_FUZZ_RUNS=1, .*\\); waiting for the test$`,
    ),
  );
  assert.equal(said.length, 2, 'an input is named once');
});
