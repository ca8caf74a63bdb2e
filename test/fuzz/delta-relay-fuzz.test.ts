// Fuzz targets (f) and (g) in the normal test run: a real client's delta download against a hostile server,
// and a real server's delta upload against a hostile client, each through a relay in front of a real server
// (targets/delta-relay-target.ts), a few seconds each with a fresh seed, printed on stderr when each starts.
// Replay as tree-relay-fuzz.test.ts says (FERRY_FUZZ_SEED, FERRY_FUZZ_FROM, FERRY_FUZZ_RUNS, FERRY_FUZZ_MS).
import { test } from 'node:test';
import { DeltaRelayFuzzTarget } from './targets/delta-relay-target.js';
import type { Victim } from './hostile-relay.js';
import { fuzzInTest } from './fuzz-test-run.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const VICTIMS: ReadonlyArray<{ victim: Victim; what: string }> = [
  { victim: 'client', what: 'a hostile server never makes a delta download' },
  { victim: 'server', what: 'a hostile client never makes a delta upload' },
];

for (const { victim, what } of VICTIMS)
  test(`fuzz: ${what} keep unvouched bytes, fail uncoded or touch the old file`, async (t) => {
    const work = await makeTempDir(`ferry-fuzz-${victim}-delta-`);
    t.after(() => removeTempDir(work));
    const target = await DeltaRelayFuzzTarget.start(victim, { workDir: work });
    await fuzzInTest(t, target, { ms: 4000, runs: 200 });
  });
