import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, isFerryError } from '../../src/errors/index.js';
import { SessionRefs } from '../../src/client/session-refs.js';

test('SessionRefs opens refs from 1, never reusing one, and hands each its messages in order', async () => {
  const refs = new SessionRefs();
  const first = refs.open();
  const second = refs.open();
  assert.deepEqual([first, second], [1, 2]);
  await refs.route({ type: 'CANCEL', ref: second });
  await refs.route({ type: 'CANCEL', ref: first });
  await refs.route({ type: 'ACK', ref: first });
  assert.equal((await refs.take(first)).type, 'CANCEL');
  assert.equal((await refs.take(first)).type, 'ACK');
  assert.equal((await refs.take(second)).type, 'CANCEL');
  refs.close(first);
  assert.equal(refs.open(), 3);
});

test('SessionRefs gives PROGRESS to the ref listener, never to its mailbox', async () => {
  const refs = new SessionRefs();
  const ref = refs.open();
  const heard: number[] = [];
  refs.onProgress(ref, (verifiedBytes) => heard.push(verifiedBytes));
  await refs.route({ type: 'PROGRESS', ref, verifiedBytes: 65536 });
  await refs.route({ type: 'ACK', ref });
  assert.deepEqual(heard, [65536]);
  assert.equal((await refs.take(ref)).type, 'ACK');
});

test("SessionRefs turns an ERROR for a ref into the server's coded error for its taker", async () => {
  const refs = new SessionRefs();
  const ref = refs.open();
  await refs.route({ type: 'ERROR', ref, code: ERROR_CODES.DISK_FULL.wire, detail: 'disk full' });
  await assert.rejects(
    refs.take(ref),
    (err: unknown) =>
      isFerryError(err, 'DISK_FULL') && err.remote === true && err.message.includes('disk full'),
  );
});

test('SessionRefs drops messages for a closed ref and refuses one for a ref never opened', async () => {
  const refs = new SessionRefs();
  const ref = refs.open();
  refs.close(ref);
  assert.equal(refs.has(ref), false);
  await refs.route({ type: 'ACK', ref }); // in flight when it was closed: dropped
  await assert.rejects(refs.route({ type: 'ACK', ref: ref + 1 }), (err: unknown) =>
    isFerryError(err, 'MESSAGE_UNEXPECTED'),
  );
  await assert.rejects(refs.take(ref), (err: unknown) => isFerryError(err, 'INTERNAL'));
});

test('SessionRefs.close releases a route waiting on a full mailbox', async () => {
  const refs = new SessionRefs();
  const ref = refs.open();
  let parked: Promise<void> | undefined;
  // Fill the mailbox until a put waits for room (its capacity is the mailbox's business, not this test's).
  for (let i = 0; i < 10_000 && parked === undefined; i++) {
    let settled = false;
    const put = refs.route({ type: 'ACK', ref }).then(() => {
      settled = true;
    });
    await Promise.resolve();
    await Promise.resolve();
    if (!settled) parked = put;
  }
  assert.ok(parked, 'the mailbox never filled');
  refs.close(ref);
  await parked;
});
