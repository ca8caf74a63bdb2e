// Fuzz targets (h) and (i) in the normal test run: a real client's `sync` down against a hostile server, and a
// real server's `sync` up against a hostile client, each through a relay in front of a real server
// (targets/tree-relay-target.ts), a few seconds each with a fresh seed (printed).
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
