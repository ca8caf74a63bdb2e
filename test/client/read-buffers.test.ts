// ReadBuffers (a delta download's read buffers, PROTOCOL.md §5.17.3): a buffer written from is read into
// again only once its writes have landed. Once every write from it was handed over (`done`), that is its
// own writes, not every write so far (issue 16: the read of a window waited for the writes of the window
// before it); without `done`, or written from again after it, every write so far, as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadBuffers } from '../../src/client/read-buffers.js';

/** A promise and the function that resolves it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Whether `promise` has settled once the microtasks queued now have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
}

/** Buffers whose three are taken, the first one written from: the next take turns to it. */
async function firstWritten(landed: () => Promise<void>): Promise<{ buffers: ReadBuffers; first: Buffer }> {
  const buffers = new ReadBuffers(landed, 1024);
  const first = await buffers.take(1024);
  await buffers.take(1024);
  await buffers.take(1024);
  buffers.written(first.subarray(0, 100));
  return { buffers, first };
}

test('ReadBuffers: a buffer whose writes were all handed over waits for those alone', async () => {
  const everyWrite = gate();
  const { buffers, first } = await firstWritten(() => everyWrite.promise);
  const own = gate();
  buffers.done(first, own.promise);
  // The fourth take turns to the first buffer: it waits for its own writes, while later ones still run.
  const again = buffers.take(512);
  assert.equal(await settled(again), false, 'waits for its own writes');
  own.open();
  assert.equal(await settled(again), true, 'not for every write so far');
  assert.equal((await again).buffer, first.buffer);
  everyWrite.open();
});

test('ReadBuffers: without done, or written from again after it, a buffer waits for every write so far', async () => {
  for (const writtenAgain of [false, true]) {
    const everyWrite = gate();
    const { buffers, first } = await firstWritten(() => everyWrite.promise);
    if (writtenAgain) {
      buffers.done(first, Promise.resolve());
      buffers.written(first.subarray(200, 300));
    }
    const again = buffers.take(1024);
    assert.equal(await settled(again), false, `waits for every write (written again: ${writtenAgain})`);
    everyWrite.open();
    assert.equal(await settled(again), true);
  }
});

test('ReadBuffers: a buffer never written from is taken at once', async () => {
  const buffers = new ReadBuffers(() => new Promise<void>(() => undefined), 1024);
  const first = await buffers.take(1024);
  await buffers.take(1024);
  await buffers.take(1024);
  buffers.done(first, new Promise<void>(() => undefined));
  assert.equal(await settled(buffers.take(1024)), true);
});
