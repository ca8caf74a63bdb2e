// `withOldFileScan`: at most two delta scans of old files run at once in a process (memory per download in
// flight, PROTOCOL.md §5.17.4); the others wait in order and start as slots free, a failed scan frees its slot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withOldFileScan } from '../../src/client/old-file-scans.js';

test('withOldFileScan runs two scans at once, the rest in order as slots free, failures included', async () => {
  const started: number[] = [];
  const finish: Array<(ok: boolean) => void> = [];
  let running = 0;
  let most = 0;
  // Each scan settles when the test says so: started in order, counted while it runs.
  const scans = [0, 1, 2, 3, 4].map((i) =>
    withOldFileScan(async () => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      const ok = await new Promise<boolean>((resolve) => (finish[i] = resolve));
      running--;
      if (!ok) throw new Error(`scan ${i} failed`);
      return i;
    }),
  );
  const settled = scans.map((s) =>
    s.then(
      () => undefined,
      () => undefined,
    ),
  );
  // A scan started is one whose resolver is set; the microtasks run before each check.
  const until = async (count: number): Promise<void> => {
    while (started.length < count) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  await until(2);
  assert.deepEqual(started, [0, 1], 'two at once');
  finish[1]!(false);
  await settled[1];
  await until(3);
  assert.deepEqual(started, [0, 1, 2], 'the failed scan freed its slot for the next in order');
  finish[0]!(true);
  finish[2]!(true);
  await until(5);
  finish[3]!(true);
  finish[4]!(true);
  assert.deepEqual(await Promise.all([scans[0], scans[2], scans[3], scans[4]]), [0, 2, 3, 4]);
  await assert.rejects(scans[1]!, /scan 1 failed/);
  assert.equal(most, 2, 'never more than two at once');
  // All slots free again: a new scan starts at once.
  assert.equal(await withOldFileScan(() => Promise.resolve('free')), 'free');
});
