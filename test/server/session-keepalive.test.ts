// SessionKeepalive (PROTOCOL.md §5.18): KEEPALIVE only while work is under way, one timer however many
// operations overlap, and never a queue of them behind one the client has not read. Absence is measured
// against a second keepalive of the same interval used as a clock: when it has ticked N times, the one
// under test had as many chances to send.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { SessionKeepalive } from '../../src/server/index.js';

const INTERVAL_MS = 5;

/**
 * The keepalive's timers are unref'd (a server's sockets keep its process alive, not they): a test holds the
 * event loop open with a handle of its own, which never fires.
 */
function holdEventLoop(t: TestContext): void {
  const handle = setInterval(() => undefined, 60_000);
  t.after(() => clearInterval(handle));
}

/** A keepalive whose sends are counted; `sent(n)` resolves once n went out. */
function counted(send: () => Promise<void> = () => Promise.resolve()): {
  keepalive: SessionKeepalive;
  count: () => number;
  sent: (n: number) => Promise<void>;
} {
  let count = 0;
  const waiters: Array<() => void> = [];
  const keepalive = new SessionKeepalive(() => {
    count++;
    for (const wake of waiters.splice(0)) wake();
    return send();
  }, INTERVAL_MS);
  const sent = async (n: number): Promise<void> => {
    while (count < n) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { keepalive, count: () => count, sent };
}

/** Resolves after `ticks` intervals of a keepalive of the same interval (a clock made of the same timers). */
async function intervals(ticks: number): Promise<void> {
  const clock = counted();
  let stop = (): void => undefined;
  const running = clock.keepalive.whileBusy(new Promise<void>((resolve) => (stop = resolve)));
  await clock.sent(ticks);
  stop();
  await running;
}

test('SessionKeepalive sends while overlapping work runs, returns the work’s result, and stops once all of it settled', async (t) => {
  holdEventLoop(t);
  const { keepalive, count, sent } = counted();
  let finishFirst = (): void => undefined;
  let finishSecond = (): void => undefined;
  const first = keepalive.whileBusy(new Promise<string>((resolve) => (finishFirst = () => resolve('a'))));
  const second = keepalive.whileBusy(
    () => new Promise<number>((resolve) => (finishSecond = () => resolve(2))),
  );
  await sent(3);
  finishFirst();
  assert.equal(await first, 'a');
  // Still busy with the second: sending goes on.
  const before = count();
  await sent(before + 2);
  finishSecond();
  assert.equal(await second, 2);
  const after = count();
  await intervals(4);
  assert.equal(count(), after, 'nothing sent once no work is under way');
});

test('SessionKeepalive never sends a second KEEPALIVE while the first is not yet written (a client not reading)', async (t) => {
  holdEventLoop(t);
  let written = (): void => undefined;
  const { keepalive, count, sent } = counted(() => new Promise<void>((resolve) => (written = resolve)));
  let finish = (): void => undefined;
  const busy = keepalive.whileBusy(new Promise<void>((resolve) => (finish = resolve)));
  await sent(1);
  await intervals(4);
  assert.equal(count(), 1, 'one KEEPALIVE parked, none queued behind it');
  written();
  await sent(2);
  finish();
  await busy;
});

test('SessionKeepalive sends nothing after close, and passes a failing work’s error through', async (t) => {
  holdEventLoop(t);
  const { keepalive, count } = counted();
  keepalive.close();
  let finish = (): void => undefined;
  const busy = keepalive.whileBusy(new Promise<void>((resolve) => (finish = resolve)));
  await intervals(4);
  assert.equal(count(), 0);
  finish();
  await busy;
  await assert.rejects(keepalive.whileBusy(Promise.reject(new Error('placing failed'))), /placing failed/);
});
