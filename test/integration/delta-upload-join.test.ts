// A delta upload is one stream (PROTOCOL.md §5.15.3): its server may write old leaves into the new file while
// it signs them and tracks every write to that partial itself, so another session presenting the primary's
// join token is refused as for no transfer, and the delta finishes as sent. Raw sessions of one client key
// against a real server on loopback, real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD, type Message } from '../../src/protocol/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { openAdmittedSession, receiveMessage as receive } from '../helpers/admitted-session.js';
import { RawUpload } from '../helpers/raw-upload.js';

const CHUNK_BYTES = 64 * 1024;

test('a JOIN for a delta upload is refused with PATH_NOT_FOUND, and the delta finishes as its one stream sent it', async (t) => {
  const identity = generateKeyPair();
  const { server } = await startTempDirServer(t, 'ferry-delta-join-', {
    // Download too: a delta offer is answered with a signature only for a client that may read the file.
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
  });
  const upload = new RawUpload(randomBytes(3 * CHUNK_BYTES), CHUNK_BYTES);
  // The old file, of the new one's size: the server may write its leaves in place while signing.
  await writeFile(join(server.root, upload.path), randomBytes(3 * CHUNK_BYTES));
  const primary = await openAdmittedSession(t, server.address, identity);
  await primary.send({ ...upload.offer(1), overwrite: true, delta: true } as Message);
  const accept = await receive(primary, 'PUT_ACCEPT');
  assert.equal(accept.delta, true, 'the server answers with a signature');
  // One record: 192 KiB in blocks of 1 KiB (PROTOCOL.md §5.15.2).
  const record = await receive(primary, 'DELTA_BLOCKS');
  assert.equal(record.firstBlock + record.weak.length, 192, 'the whole signature');

  const other = await openAdmittedSession(t, server.address, identity);
  await other.send(upload.offer(2, accept.joinToken));
  const refused = await receive(other, 'ERROR');
  assert.equal(refused.code, ERROR_CODES.PATH_NOT_FOUND.wire, JSON.stringify(refused));
  assert.equal(refused.detail, 'no matching transfer to join', 'the same answer as for no transfer');
  other.close();

  // The primary sends every chunk as data and finishes: the new file replaces the old one.
  for (let index = 0; index < 3; index++) await upload.sendChunk(primary, 1, index);
  await upload.finish(primary, 1);
  assert.ok((await readFile(join(server.root, upload.path))).equals(upload.content));
  primary.close();
});
