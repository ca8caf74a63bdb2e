// A session's downloads beside its receive loop (PROTOCOL.md §5.9, §5.11.4): one at a time in arrival order,
// bounded, and stopped by a CANCEL or the session's end. Jobs here are promises the test settles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FerryError } from '../../src/errors/index.js';
import { CANCELLED_BY_CLIENT, DownloadQueue } from '../../src/server/download-queue.js';

/** A job that records its start and runs until the test ends it (or its signal aborts). */
function heldJob(log: string[], name: string) {
  let end = (): void => undefined;
  let started = (): void => undefined;
  const hasStarted = new Promise<void>((resolve) => (started = resolve));
  let seen: AbortSignal | undefined;
  const job = async (signal: AbortSignal): Promise<void> => {
    seen = signal;
    log.push(`start ${name}`);
    started();
    await new Promise<void>((resolve) => {
      end = resolve;
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    log.push(`end ${name}`);
  };
  return { job, end: () => end(), hasStarted, signal: () => seen };
}

test('DownloadQueue runs downloads one at a time in arrival order', async () => {
  const log: string[] = [];
  const queue = new DownloadQueue();
  const [a, b, c] = ['a', 'b', 'c'].map((name) => heldJob(log, name));
  queue.add(1, a!.job);
  queue.add(2, b!.job);
  queue.add(3, c!.job);
  await a!.hasStarted;
  assert.deepEqual(log, ['start a']);
  a!.end();
  await b!.hasStarted;
  b!.end();
  await c!.hasStarted;
  c!.end();
  await queue.close(new FerryError('CONNECTION_CLOSED'));
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
});

test('DownloadQueue: a CANCEL stops the running download through its signal, and a queued one never starts', async () => {
  const log: string[] = [];
  const queue = new DownloadQueue();
  const [a, b, c] = ['a', 'b', 'c'].map((name) => heldJob(log, name));
  queue.add(1, a!.job);
  queue.add(2, b!.job);
  queue.add(3, c!.job);
  await a!.hasStarted;
  queue.cancel(2);
  queue.cancel(1);
  assert.equal(a!.signal()!.reason, CANCELLED_BY_CLIENT);
  await c!.hasStarted;
  c!.end();
  await queue.close(new FerryError('CONNECTION_CLOSED'));
  assert.deepEqual(log, ['start a', 'end a', 'start c', 'end c']);
});

test('DownloadQueue makes room only when a download ends, so at most `limit` are queued or sent', async () => {
  const log: string[] = [];
  const queue = new DownloadQueue();
  const [a, b] = ['a', 'b'].map((name) => heldJob(log, name));
  queue.add(1, a!.job);
  queue.add(2, b!.job);
  let roomy = false;
  const room = queue.roomFor(2).then(() => (roomy = true));
  await a!.hasStarted;
  assert.equal(queue.size, 2);
  assert.equal(roomy, false);
  a!.end();
  await room;
  assert.equal(queue.size, 1);
  b!.end();
  await queue.close(new FerryError('CONNECTION_CLOSED'));
  assert.equal(queue.size, 0);
});

test('DownloadQueue.close stops every download with its reason and waits until none runs', async () => {
  const log: string[] = [];
  const queue = new DownloadQueue();
  const [a, b] = ['a', 'b'].map((name) => heldJob(log, name));
  queue.add(1, a!.job);
  queue.add(2, b!.job);
  await a!.hasStarted;
  const reason = new FerryError('CONNECTION_CLOSED', 'session ended');
  await queue.close(reason);
  assert.equal(a!.signal()!.reason, reason);
  assert.deepEqual(log, ['start a', 'end a']);
  await queue.close(reason);
});

test('DownloadQueue refuses a second download of a ref still open (MESSAGE_UNEXPECTED), so one repeated ref cannot grow the queue past its bound', async () => {
  const log: string[] = [];
  const queue = new DownloadQueue();
  const a = heldJob(log, 'a');
  const again = heldJob(log, 'again');
  queue.add(7, a.job);
  await a.hasStarted;
  assert.throws(() => queue.add(7, again.job), { code: 'MESSAGE_UNEXPECTED' });
  assert.equal(queue.size, 1);
  a.end();
  await queue.close(new FerryError('CONNECTION_CLOSED'));
  assert.deepEqual(log, ['start a', 'end a'], 'the repeated request never ran');
});

test('DownloadQueue.endWith: its connection closing stops the running download, the queued and any added after', async () => {
  const log: string[] = [];
  const queue = new DownloadQueue();
  const connection = new AbortController();
  queue.endWith(connection.signal);
  const [a, b, c] = ['a', 'b', 'c'].map((name) => heldJob(log, name));
  queue.add(1, a!.job);
  queue.add(2, b!.job);
  await a!.hasStarted;
  const closed = new FerryError('CONNECTION_CLOSED', 'the connection closed');
  connection.abort(closed);
  // Added by a loop that was waiting for room when the connection closed.
  queue.add(3, c!.job);
  await queue.roomFor(1);
  assert.deepEqual(log, ['start a', 'end a']);
  assert.equal(a!.signal()?.reason, closed);
  assert.equal(queue.size, 0);
});
