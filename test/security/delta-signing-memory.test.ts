// The server's memory for signing a file for a delta download (stop 30). A delta upload's share (its copies'
// buffers, the signing's reads, the old file's leaf hashes) has been reserved from DeltaMemory, per client and
// in total, since stop 28; a delta download's signing (PROTOCOL.md §5.17.2) holds the same reads (two of 64
// leaves, 8 MiB) and its tables of leaf hashes and weak checksums (36 bytes a leaf) for as long as the client
// takes to read its records, and reserved nothing: 32 sessions of each key, each signing a file it reads a
// byte at a time, held ~300 MiB per key, bounded only by the connection limit (1024 sessions: ~9 GiB). The
// signing now reserves deltaSigningBytes from the same DeltaMemory first. Here the client's share is already
// taken (as other deltas of its would): its signature waits, never refused, and goes once the share is back.
// A real server on loopback, a raw admitted session, a 16 MiB file (sparse) signed in leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  HASH_BYTES,
  LEAF_BYTES,
  LEAF_DELTA_FROM_BYTES,
  PERMISSION_DOWNLOAD,
} from '../../src/protocol/index.js';
import { DELTA_MEMORY_PER_CLIENT_BYTES, deltaSigningBytes } from '../../src/server/delta-memory.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const SIZE = LEAF_DELTA_FROM_BYTES;

test("a delta download's signing waits for its client's delta memory, and gives it back", async (t) => {
  const client = generateKeyPair();
  const clientHex = client.publicKey.toString('hex');
  let waited: () => void = () => undefined;
  const waiting = new Promise<string>((resolve) => (waited = () => resolve('waiting')));
  const { dir, server } = await startTempDirServer(t, 'ferry-delta-signing-memory-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    deltaMemory: { onWait: () => waited() },
  });
  const path = join(dir, 'root', 'big.bin');
  await writeFile(path, 'x');
  await truncate(path, SIZE);
  // The client's whole share, held as its other deltas would hold it.
  const giveBack = await server.deltaMemory.reserve(clientHex, DELTA_MEMORY_PER_CLIENT_BYTES);
  const session = await openAdmittedSession(t, server.address, client);
  // PROTOCOL.md §5.17.1: the signature of the whole file, nothing held.
  const asked = { chunkBytes: LEAF_BYTES, verifyOnly: false, signature: true, heldSize: 0, ranges: [] };
  const none = Buffer.alloc(HASH_BYTES);
  await session.send({ type: 'GET_REQUEST', ref: 1, ...asked, haveDigest: none, path: 'big.bin' });
  const offer = await receiveMessage(session, 'GET_OFFER');
  assert.equal(offer.signature, true);
  const firstRecord = receiveMessage(session, 'DELTA_BLOCKS');
  firstRecord.catch(() => undefined);
  // Either the signing waits for memory, or (without the bound) its first record comes at once.
  assert.equal(await Promise.race([waiting, firstRecord.then(() => 'signed')]), 'waiting');
  giveBack();
  for (let blocks = 0; blocks < SIZE / LEAF_BYTES;) {
    const record = blocks === 0 ? await firstRecord : await receiveMessage(session, 'DELTA_BLOCKS');
    blocks = record.firstBlock + record.weak.length;
  }
  await receiveMessage(session, 'GET_END');
  assert.equal(server.deltaMemory.heldBytes, 0, 'the signing gave its share back');
  assert.ok(server.deltaMemory.peakBytes <= DELTA_MEMORY_PER_CLIENT_BYTES, 'never past the client share');
  assert.ok(deltaSigningBytes(SIZE) > 8 * 1024 * 1024, 'the signing counts its reads and its tables');
});
