// A takeover seen from two raw sessions of one client (PROTOCOL.md §6.1, §6.2): the older session hears
// TRANSFER_TAKEN_OVER at once, without sending anything, and what it still sends for that ref is discarded
// while the session goes on. Real server on loopback, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_UPLOAD, type Message } from '../../src/protocol/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';

const CHUNK_BYTES = 1024 * 1024;

function offer(ref: number): Message {
  return {
    type: 'PUT_OFFER',
    ref,
    size: 3 * CHUNK_BYTES,
    mtimeMs: 1_700_000_000_000,
    chunkBytes: CHUNK_BYTES,
    mode: 0o644,
    overwrite: false,
    fresh: false,
    path: 'shared.bin',
  };
}

test('an upload taken over by a newer session of the client ends at once with TRANSFER_TAKEN_OVER; the older session`s later messages for it are discarded and it goes on', async (t) => {
  const identity = generateKeyPair();
  const { server } = await startTempDirServer(t, 'ferry-takeover-raw-', {
    authorize: (key) => (key.equals(identity.publicKey) ? { permissions: PERMISSION_UPLOAD } : undefined),
  });
  const older = await openAdmittedSession(t, server.address, identity);
  await older.send(offer(1));
  assert.equal((await older.receive()).type, 'PUT_ACCEPT');
  // Some data of the first chunk, so the older session holds an open chunk when it is taken over.
  await older.send({ type: 'PUT_DATA', ref: 1, offset: 0, data: Buffer.alloc(4096, 1) });

  const newer = await openAdmittedSession(t, server.address, identity);
  await newer.send(offer(7));
  // The older session has sent nothing since: the ERROR comes by itself, before the newer one is answered.
  const [taken, accepted] = await Promise.all([older.receive(), newer.receive()]);
  assert.deepEqual(taken, {
    type: 'ERROR',
    ref: 1,
    code: ERROR_CODES.TRANSFER_TAKEN_OVER.wire,
    detail: '',
  });
  assert.equal(accepted.type, 'PUT_ACCEPT');

  // Still in flight from the older client's point of view: discarded, not a protocol error.
  await older.send({ type: 'PUT_DATA', ref: 1, offset: 4096, data: Buffer.alloc(4096, 1) });
  await older.send({ type: 'PUT_CHUNK', ref: 1, index: 0, chunkHash: Buffer.alloc(32) });
  await older.send({ type: 'PUT_END', ref: 1, fileDigest: Buffer.alloc(32) });
  await older.send({ type: 'PUT_DIR', ref: 2, mode: 0o755, mtimeMs: 0, path: 'after' });
  assert.deepEqual(await older.receive(), { type: 'ACK', ref: 2 });
});
