// Stop 42 made a promise of disk (an upload offer's reserved size, `StorageLimits`) last only while a session
// holds its transfer; a live session still held it for as long as it lived. One allowed key's sessions (32 by
// default) could each offer a file as large as the free disk allows, send no byte, keep the session with one
// small request within each idle timeout, and so reserve the server's free disk against every other key for
// as long as they stayed connected (probed: 32 sessions promised 39.9 of 40 GiB, held through 5 idle
// timeouts). Now an offer's promise of the rest of its file lasts while its data flows (a day's pace of its
// size, a leaf at least, within each `--upload-stall-timeout`): a stalled one counts only what its partial
// holds, a trickle of bytes does not keep it, and the data catching up promises the rest again, refused
// DISK_FULL if another took the room. Real
// Noise sessions on loopback, a real 32 MiB tmpfs (needs root, as the reserve's other tests); the promises'
// clock is injected, so nothing sleeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_UPLOAD, type Message } from '../../src/protocol/index.js';
import { FerryServer, SERVER_DEFAULTS } from '../../src/server/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { RawUpload } from '../helpers/raw-upload.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';

const MiB = 1024 * 1024;
const LEAF = 64 * 1024;
const STALL_MS = SERVER_DEFAULTS.uploadStallTimeoutMs;

/** The answer to the message just sent for `ref`: its type, or `ERROR` and the code's name. */
async function answer(channel: SecureChannel, ref: number): Promise<string> {
  let reply: Message;
  do reply = await channel.receive();
  while (reply.type === 'PROGRESS');
  assert.equal('ref' in reply ? reply.ref : undefined, ref, JSON.stringify(reply));
  if (reply.type !== 'ERROR') return reply.type;
  return `ERROR ${Object.entries(ERROR_CODES).find(([, spec]) => spec.wire === reply.code)?.[0]}`;
}

/** Bytes `from` to `to` of `upload` as PUT_DATA of ref 1, in pieces that fit a record. */
async function sendBytes(channel: SecureChannel, upload: RawUpload, from: number, to: number): Promise<void> {
  for (let offset = from; offset < to; offset += Math.min(to - offset, 32 * 1024)) {
    const data = upload.content.subarray(offset, Math.min(to, offset + 32 * 1024));
    await channel.send({ type: 'PUT_DATA', ref: 1, offset, data });
  }
}

async function offer(channel: SecureChannel, upload: RawUpload, ref: number): Promise<string> {
  await channel.send(upload.offer(ref));
  return answer(channel, ref);
}

test("one key's live sessions that offer and send no data hold no disk past the stall timeout; a trickle does not keep it, flowing data does, and data after a stall promises the rest again", async (t) => {
  const fs = await mountSmallFilesystem(t, 32 * MiB);
  let nowMs = 0;
  const server = await FerryServer.start({
    root: join(fs, 'root'),
    host: '127.0.0.1',
    port: 0,
    identity: generateKeyPair(),
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    partialSweepIntervalMs: 0,
    minFreeDiskBytes: 8 * MiB,
    storageNow: () => nowMs,
  });
  t.after(() => server.close());
  const holder = generateKeyPair();
  const [stalled, flowing] = [
    await openAdmittedSession(t, server.address, holder),
    await openAdmittedSession(t, server.address, holder),
  ];
  const other = await openAdmittedSession(t, server.address, generateKeyPair());
  const stalledFile = new RawUpload(Buffer.alloc(10 * MiB, 1), LEAF, 'a.bin');
  const flowingFile = new RawUpload(Buffer.alloc(10 * MiB, 2), LEAF, 'b.bin');

  // Two live offers of 10 MiB leave 12 of the 32 MiB: another key's 12 MiB would break the 8 MiB reserve.
  assert.equal(await offer(stalled, stalledFile, 1), 'PUT_ACCEPT');
  assert.equal(await offer(flowing, flowingFile, 1), 'PUT_ACCEPT');
  assert.equal(
    await offer(other, new RawUpload(Buffer.alloc(12 * MiB), LEAF, 'c.bin'), 1),
    'ERROR DISK_FULL',
  );

  // Within the stall timeout: one upload writes a leaf (its data flows), the other trickles 100 bytes.
  nowMs = STALL_MS - 10_000;
  await flowingFile.sendChunk(flowing, 1, 0);
  await sendBytes(stalled, stalledFile, 0, 100);
  // Both sessions are live: one small request (a listing of the root) within each idle timeout keeps them.
  for (const session of [stalled, flowing]) {
    await session.send({ type: 'LIST_REQUEST', ref: 2, recursive: false, selfOnly: true, path: '' });
    assert.equal(await answer(session, 2), 'LIST_END');
  }

  // Past the stall timeout of the trickling upload alone: its 10 MiB no longer count, the flowing one's do.
  nowMs = STALL_MS + 1;
  assert.equal(
    await offer(other, new RawUpload(Buffer.alloc(16 * MiB), LEAF, 'd.bin'), 2),
    'ERROR DISK_FULL',
  );
  assert.equal(await offer(other, new RawUpload(Buffer.alloc(12 * MiB), LEAF, 'c.bin'), 3), 'PUT_ACCEPT');

  // The stalled upload's data returns (the rest of a leaf): its 10 MiB would break the reserve now, as a
  // resume's offer would, so the data is refused DISK_FULL before it is written, and its session goes on.
  await sendBytes(stalled, stalledFile, 100, LEAF);
  assert.equal(await answer(stalled, 1), 'ERROR DISK_FULL');
  await stalled.send({ type: 'LIST_REQUEST', ref: 3, recursive: false, selfOnly: true, path: '' });
  assert.equal(await answer(stalled, 3), 'LIST_END');

  // The flowing upload finishes within its promise.
  for (let index = 1; index * LEAF < flowingFile.content.length; index++)
    await flowingFile.sendChunk(flowing, 1, index);
  await flowingFile.finish(flowing, 1);
});
