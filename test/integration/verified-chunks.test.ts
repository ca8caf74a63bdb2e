// Bytes the server stores are bytes it verified (PROTOCOL.md §5.5, §5.13): a joined stream of the same client
// cannot rewrite a chunk the primary already had verified, and a chunk that failed its hash is not held until
// it is sent again and matches. Raw sessions (the library never sends such data) against a real server on
// loopback, real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_UPLOAD, chunkHashOf, fileDigest } from '../../src/protocol/index.js';
import type { FerryServer } from '../../src/server/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { openAdmittedSession, receiveMessage as receive } from '../helpers/admitted-session.js';
import { RawUpload } from '../helpers/raw-upload.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const upload = new RawUpload(randomBytes(2 * CHUNK_BYTES), CHUNK_BYTES);
const { content, digest: DIGEST } = upload;

interface Rig {
  root: string;
  server: FerryServer;
  /** A new admitted session of the one client. */
  session: () => Promise<SecureChannel>;
}

async function startRig(t: TestContext): Promise<Rig> {
  const identity = generateKeyPair();
  const { server } = await startTempDirServer(t, 'ferry-verified-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    // A PROGRESS per verified chunk: the test waits on it instead of guessing when a chunk is held.
    durableBatchBytes: CHUNK_BYTES,
  });
  return {
    root: server.root,
    server,
    session: () => openAdmittedSession(t, server.address, identity),
  };
}

/** The primary offers the file and has chunk 0 verified and durable; `token` is its PUT_ACCEPT's join token. */
async function primaryWithChunk0(rig: Rig): Promise<{ primary: SecureChannel; token: Buffer }> {
  const primary = await rig.session();
  return { primary, token: await upload.startWithChunk0(primary) };
}

test('a joined stream cannot rewrite a chunk the primary had verified: it is refused, and the stored file is the content its PUT_DONE digest names', async (t) => {
  const rig = await startRig(t);
  const { primary, token } = await primaryWithChunk0(rig);
  const joined = await rig.session();
  await joined.send(upload.offer(1, token));
  await receive(joined, 'PUT_ACCEPT');
  // Other content for chunk 0, closed with a wrong hash: on a8541e7 the bytes were written, CHUNK_MISMATCH
  // came back for this ref only, and the primary's verified hash still vouched for chunk 0.
  await upload.sendChunk(joined, 1, 0, Buffer.alloc(CHUNK_BYTES, 0x58), chunkHashOf(Buffer.from('anything')));
  const refused = await receive(joined, 'ERROR');
  assert.equal(refused.code, ERROR_CODES.MESSAGE_MALFORMED.wire, `refused with ${refused.code}`);
  assert.match(refused.detail, /chunk 0 is already verified/);

  await upload.sendChunk(primary, 1, 1);
  const done = await upload.finish(primary, 1);
  assert.ok(done.fileDigest.equals(DIGEST));
  const stored = await readFile(join(rig.root, 'f.bin'));
  assert.ok(
    fileDigest(stored.length, CHUNK_BYTES, [
      chunkHashOf(stored.subarray(0, CHUNK_BYTES)),
      chunkHashOf(stored.subarray(CHUNK_BYTES)),
    ]).equals(DIGEST),
    'the digest describes the stored bytes',
  );
  assert.ok(stored.equals(content));
});

test('a chunk that failed its hash on a joined stream is not held: the PUT_END is refused, and a resumed offer asks for the chunk again', async (t) => {
  const rig = await startRig(t);
  const { primary, token } = await primaryWithChunk0(rig);
  const joined = await rig.session();
  await joined.send(upload.offer(1, token));
  await receive(joined, 'PUT_ACCEPT');
  await upload.sendChunk(joined, 1, 1, Buffer.alloc(CHUNK_BYTES, 0x58), chunkHashOf(upload.chunk(1)));
  const mismatch = await receive(joined, 'ERROR');
  assert.equal(mismatch.code, ERROR_CODES.CHUNK_MISMATCH.wire);
  assert.equal(mismatch.ref, 1, 'only the joined stream is over');

  await primary.send({ type: 'PUT_END', ref: 1, fileDigest: DIGEST });
  const refused = await primary.receive();
  assert.equal(refused.type, 'ERROR', JSON.stringify(refused));
  assert.match(refused.detail, /1 of 2 chunks missing at end/);

  const again = await rig.session();
  await again.send(upload.offer(1));
  const accept = await receive(again, 'PUT_ACCEPT');
  assert.deepEqual(accept.ranges, [{ first: 0, count: 1 }], 'chunk 1 is not held');
  await upload.sendChunk(again, 1, 1);
  await upload.finish(again, 1);
  assert.ok((await readFile(join(rig.root, 'f.bin'))).equals(content));
});

test("when the primary session ends, a joined stream's further data fails for its ref only (PATH_NOT_FOUND), and its session goes on (§5.13.5)", async (t) => {
  const rig = await startRig(t);
  const { primary, token } = await primaryWithChunk0(rig);
  const joined = await rig.session();
  await joined.send(upload.offer(1, token));
  await receive(joined, 'PUT_ACCEPT');
  const primaryClosed = once(rig.server.events, 'session-closed');
  primary.close();
  await primaryClosed;

  // On main before the receiver machine the data went to the closed partial with no answer at all.
  await upload.sendChunk(joined, 1, 1);
  // Then the session resumes the transfer itself (sent at once, so a server that stays silent fails fast).
  await joined.send(upload.offer(2));
  const refused = await receive(joined, 'ERROR');
  assert.equal(refused.code, ERROR_CODES.PATH_NOT_FOUND.wire, JSON.stringify(refused));
  assert.equal(refused.ref, 1);
  assert.match(refused.detail, /the transfer this stream joined is closed/);

  // The session is still good: its offer resumes from the chunk the primary made durable.
  assert.deepEqual((await receive(joined, 'PUT_ACCEPT')).ranges, [{ first: 0, count: 1 }]);
});
