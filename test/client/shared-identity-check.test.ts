// SharedIdentityCheck: the old file's identity checks asked while one runs share the next, started after them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedIdentityCheck } from '../../src/client/shared-identity-check.js';

/** A check whose runs the test ends one by one, with the answer it gives. */
function manualCheck(): {
  check: () => Promise<boolean>;
  started: () => number;
  end: (answer: boolean) => void;
} {
  const ends: Array<(answer: boolean) => void> = [];
  let ended = 0;
  return {
    check: () => new Promise<boolean>((resolve) => ends.push(resolve)),
    started: () => ends.length,
    end: (answer) => ends[ended++]!(answer),
  };
}

test('SharedIdentityCheck: asks while a check runs share one check started after it, never the running one', async () => {
  const manual = manualCheck();
  const shared = new SharedIdentityCheck(manual.check);
  const first = shared.ask();
  assert.equal(manual.started(), 1, 'nothing running: a check starts at once');
  // Asked after reads that may have finished after the running check started: it cannot vouch for them.
  const second = shared.ask();
  const third = shared.ask();
  assert.equal(manual.started(), 1, 'no second check while one runs');
  manual.end(true);
  assert.equal(await first, true);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(manual.started(), 2, 'one check for both asks, once the first is done');
  const fourth = shared.ask();
  manual.end(false);
  assert.deepEqual(await Promise.all([second, third]), [false, false], 'the shared check answers both');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(manual.started(), 3, 'an ask during the shared check waits for the next one');
  manual.end(true);
  assert.equal(await fourth, true);
  const fifth = shared.ask();
  assert.equal(manual.started(), 4, 'idle again: a check starts at once');
  manual.end(true);
  assert.equal(await fifth, true);
});
