// Upload batches (PROTOCOL.md §5.14) hold their entries' data in memory until they are placed, and a session
// may keep two open for as long as it lives: a client under many sessions and keys could make the server hold
// any amount (32 sessions of one key: 86 MiB of buffers measured, every key as much again). BatchAdmission
// bounds open batches per client and in total; a batch past either waits with its session's reading.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import {
  PERMISSION_UPLOAD,
  chunkHashOf,
  fileDigest,
  type BatchEntry,
  type Message,
} from '../../src/protocol/index.js';
import { BatchAdmission } from '../../src/server/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const CHUNK = 64 * 1024;
/** Turns of the event loop within which an answer sent on loopback arrives (a bound, not a sleep). */
const TURNS = 500;

async function loopTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

function entry(path: string): BatchEntry {
  const data = Buffer.from(`content of ${path}\n`);
  return {
    size: data.length,
    mtimeMs: 1_700_000_000_000,
    mode: 0o644,
    fileDigest: fileDigest(data.length, CHUNK, [chunkHashOf(data)]),
    path,
    data,
  };
}

/** Opens batch `ref` on `session` with one entry, without ending it. */
async function openBatch(session: SecureChannel, ref: number, path: string): Promise<void> {
  await session.send({ type: 'PUT_BATCH', ref, overwrite: false, chunkBytes: CHUNK, entries: [entry(path)] });
}

async function endBatch(session: SecureChannel, ref: number): Promise<void> {
  await session.send({ type: 'BATCH_END', ref, totalEntries: 1 });
}

/** The next message of `session`, or undefined if none came within TURNS turns (still pending then). */
async function answeredSoon(pending: Promise<Message>): Promise<Message | undefined> {
  let answer: Message | undefined;
  void pending.then((message) => (answer = message)).catch(() => undefined);
  await Promise.race([pending, loopTurns(TURNS)]);
  return answer;
}

test('BatchAdmission admits up to its per-client and total bounds, then in arrival order as batches end; a release counts once', async () => {
  const admission = new BatchAdmission({ perClient: 2, total: 3 });
  const order: string[] = [];
  const a1 = await admission.admit('a');
  const a2 = await admission.admit('a');
  const a3 = admission.admit('a').then((release) => (order.push('a3'), release));
  const b1 = await admission.admit('b'); // a is at its own limit, the total has room
  const b2 = admission.admit('b').then((release) => (order.push('b2'), release));
  const c1 = admission.admit('c').then((release) => (order.push('c1'), release));
  await loopTurns(5);
  assert.deepEqual(order, [], 'the total is full: everyone else waits');
  a1();
  a1(); // a second release gives nothing back
  await loopTurns(5);
  assert.deepEqual(order, ['a3'], 'the first in arrival order that fits');
  b1();
  await loopTurns(5);
  assert.deepEqual(order, ['a3', 'b2']);
  (await a3)();
  a2();
  await loopTurns(5);
  assert.deepEqual(order, ['a3', 'b2', 'c1']);
  (await b2)();
  (await c1)();
  // Everything given back: the full bounds are there again.
  const again = await Promise.all([admission.admit('a'), admission.admit('a'), admission.admit('b')]);
  again.forEach((release) => release());
});

async function rig(t: TestContext): Promise<{
  open: (who: KeyPair) => Promise<SecureChannel>;
  clients: KeyPair[];
}> {
  const clients = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const { server } = await startTempDirServer(t, 'ferry-batch-admission-', {
    authorize: (key) =>
      clients.some((c) => c.publicKey.equals(key)) ? { permissions: PERMISSION_UPLOAD } : undefined,
    batchAdmission: { perClient: 1, total: 2 },
  });
  return { clients, open: (who) => openAdmittedSession(t, server.address, who) };
}

test('a client at its bound of open batches waits, on any of its sessions, until one ends; another client goes on', async (t) => {
  const { clients, open } = await rig(t);
  const [k, l] = clients;
  const a = await open(k!);
  const b = await open(k!);
  await openBatch(a, 1, 'a.txt');
  await openBatch(b, 1, 'b.txt');
  await endBatch(b, 1);
  const bDone = receiveMessage(b, 'BATCH_DONE');
  assert.equal(await answeredSoon(bDone), undefined, 'the second batch of the client waits for the first');

  // Another client's batch is admitted meanwhile (the total has room).
  const c = await open(l!);
  await openBatch(c, 1, 'c.txt');
  await endBatch(c, 1);
  assert.deepEqual((await receiveMessage(c, 'BATCH_DONE')).results, [{ status: 'placed' }]);

  await endBatch(a, 1);
  assert.deepEqual((await receiveMessage(a, 'BATCH_DONE')).results, [{ status: 'placed' }]);
  assert.deepEqual((await bDone).results, [{ status: 'placed' }]);
});

test('past the total of open batches every client waits, and a session that ends gives its batch`s place back', async (t) => {
  const { clients, open } = await rig(t);
  const [k, l, m] = clients;
  const a = await open(k!);
  const c = await open(l!);
  await openBatch(a, 1, 'a.txt');
  await openBatch(c, 1, 'c.txt');
  const d = await open(m!);
  await openBatch(d, 1, 'd.txt');
  await endBatch(d, 1);
  const dDone = receiveMessage(d, 'BATCH_DONE');
  assert.equal(await answeredSoon(dDone), undefined, 'the total is full');
  // The first client's session ends with its batch open: dropped, its place goes to the waiting one.
  a.close();
  assert.deepEqual((await dDone).results, [{ status: 'placed' }]);
  await endBatch(c, 1);
  assert.deepEqual((await receiveMessage(c, 'BATCH_DONE')).results, [{ status: 'placed' }]);
});

test(
  'a batch waiting for admission leaves the queue when its connection closes, and the next one goes',
  { timeout: 60_000 },
  async () => {
    // Stop 30: the wait sat in the session's receive loop and ignored the client's end, so a client holding
    // its open batches could send a batch's first record, hang up and repeat, leaving sessions behind.
    const admission = new BatchAdmission({ perClient: 1, total: 4 });
    const held = await admission.admit('a');
    const connection = new AbortController();
    const gone = admission.admit('a', connection.signal);
    const next = admission.admit('a');
    connection.abort(new Error('the connection closed'));
    await assert.rejects(gone, /the connection closed/);
    held();
    const release = await next;
    release();
  },
);
