// Fuzz targets (h) and (i) in the normal test run: a real client's `sync` down against a hostile server, and a
// real server's `sync` up against a hostile client, each through a relay in front of a real server
// (targets/tree-relay-target.ts), a few seconds each with a fresh seed, printed on stderr when each starts.
//
// Replay (fuzz-budget.ts): the whole run with FERRY_FUZZ_SEED=<seed>; one input alone, on a fresh server, with
// FERRY_FUZZ_SEED=<seed> FERRY_FUZZ_FROM=<index> FERRY_FUZZ_RUNS=1 (a failure prints both); longer with
// FERRY_FUZZ_MS. One target: --test-name-pattern="hostile client" (the server's sync up) or "hostile server".
//   FERRY_FUZZ_SEED=123 FERRY_FUZZ_FROM=41 FERRY_FUZZ_RUNS=1 node --import tsx --test \
//     --test-name-pattern="hostile client" test/fuzz/tree-relay-fuzz.test.ts
// A server session that outlives its input (relay-fuzz-target.ts SESSIONS_END_MS) fails it, naming the
// session's phase and what the relay carried on it; an input still running after 30 s is named on stderr.
import { test } from 'node:test';
import type { Victim } from './hostile-relay.js';
import { TreeRelayFuzzTarget } from './targets/tree-relay-target.js';
import { fuzzInTest } from './fuzz-test-run.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const VICTIMS: ReadonlyArray<{ victim: Victim; what: string }> = [
  { victim: 'client', what: "a hostile server never makes a client's sync down" },
  { victim: 'server', what: "a hostile client never makes a server's sync up" },
];

for (const { victim, what } of VICTIMS)
  test(`fuzz: ${what} change anything outside DST or fail uncoded`, async (t) => {
    const work = await makeTempDir(`ferry-fuzz-${victim}-sync-`);
    t.after(() => removeTempDir(work));
    const target = await TreeRelayFuzzTarget.start(victim, { workDir: work });
    await fuzzInTest(t, target, { ms: 4000, runs: 200 });
  });
