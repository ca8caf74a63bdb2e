// The window of pipelined operations (PROTOCOL.md §5.8): `settledWhere` waits for the operations holding the
// jobs it picks and leaves every operation in place, so results still land in order and a failure is met
// where it always was (issue 16: a directory's PUT_DIR waits for the files below it, not for every file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InFlightWindow } from '../../src/client/in-flight-window.js';

/** An operation whose outcome the test settles. */
function pending<R>(): { done: Promise<R>; settle: (value: R) => void; fail: (err: Error) => void } {
  let settle!: (value: R) => void;
  let fail!: (err: Error) => void;
  const done = new Promise<R>((resolve, reject) => ((settle = resolve), (fail = reject)));
  done.catch(() => undefined);
  return { done, settle, fail };
}

test('settledWhere waits for the picked operations alone, a group picked by any of its jobs, and leaves them in the window', async () => {
  const results: string[] = [];
  let settledCount = 0;
  const window = new InFlightWindow<string>(results, () => settledCount++);
  const a = pending<string>();
  const b = pending<string>();
  const group = pending<string[]>();
  await window.add(0, () => Promise.resolve({ done: a.done }));
  await window.add(1, () => Promise.resolve({ done: b.done }));
  await window.addGroup([2, 3], () => Promise.resolve({ done: group.done }));

  let waited = false;
  const onlyA = window.settledWhere((i) => i === 0).then(() => (waited = true));
  b.settle('b');
  await Promise.resolve();
  assert.equal(waited, false, 'b settling does not end a wait for a');
  a.settle('a');
  await onlyA;
  assert.equal(settledCount, 0, 'nothing taken out of the window');

  let groupWaited = false;
  const ofGroup = window.settledWhere((i) => i === 3).then(() => (groupWaited = true));
  await Promise.resolve();
  assert.equal(groupWaited, false, 'the group holds job 3');
  group.settle(['c', 'd']);
  await ofGroup;

  await window.drain();
  assert.deepEqual(results, ['a', 'b', 'c', 'd']);
  assert.equal(settledCount, 3);
});

test('settledWhere does not throw for a failed operation: drain meets the failure, in order', async () => {
  const results: string[] = [];
  const window = new InFlightWindow<string>(results, () => undefined);
  const a = pending<string>();
  await window.add(0, () => Promise.resolve({ done: a.done }));
  a.fail(new Error('refused'));
  await window.settledWhere(() => true);
  await assert.rejects(window.drain(), /refused/);
});
