// The server's memory for signing a file for a delta download (stop 30). A delta upload's share (its copies'
// buffers, the signing's reads, the old file's leaf hashes) has been reserved from DeltaMemory, per client and
// in total, since stop 28; a delta download's signing (PROTOCOL.md §5.17.2) holds the same reads (three of 64
// leaves, 12 MiB) and its tables of leaf hashes and weak checksums (36 bytes a leaf) for as long as the client
// takes to read its records, and reserved nothing: 32 sessions of each key, each signing a file it reads a
// byte at a time, held ~300 MiB per key, bounded only by the connection limit (1024 sessions: ~9 GiB). The
// signing now reserves deltaSigningBytes from the same DeltaMemory first. Here the client's share is already
// taken (as other deltas of its would): its signature waits, never refused, and goes once the share is back.
// A signing waiting there stops waiting when its session ends (or its CANCEL comes): a session that ended
// must not leave a waiter behind, with the file it opened, for memory it will never use.
// A real server on loopback, a raw admitted session, a 16 MiB file (sparse) signed in leaves.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import type { FerryServer } from '../../src/server/index.js';
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

interface Rig {
  server: FerryServer;
  session: SecureChannel;
  /** Gives back the client's share, taken before the request as its other deltas would hold it. */
  giveBack: () => void;
  /** Resolves with 'waiting' once the signing waits for memory. */
  waiting: Promise<string>;
}

/** A server with big.bin, the client's whole delta share taken, and its signature asked for on ref 1. */
async function askWithShareTaken(t: TestContext): Promise<Rig> {
  const client = generateKeyPair();
  let waited: () => void = () => undefined;
  const waiting = new Promise<string>((resolve) => (waited = () => resolve('waiting')));
  const { dir, server } = await startTempDirServer(t, 'ferry-delta-signing-memory-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    deltaMemory: { onWait: () => waited() },
  });
  const path = join(dir, 'root', 'big.bin');
  await writeFile(path, 'x');
  await truncate(path, SIZE);
  const clientHex = client.publicKey.toString('hex');
  const giveBack = await server.deltaMemory.reserve(clientHex, DELTA_MEMORY_PER_CLIENT_BYTES);
  const session = await openAdmittedSession(t, server.address, client);
  // PROTOCOL.md §5.17.1: the signature of the whole file, nothing held.
  const asked = { chunkBytes: LEAF_BYTES, verifyOnly: false, signature: true, heldSize: 0, ranges: [] };
  const none = Buffer.alloc(HASH_BYTES);
  await session.send({ type: 'GET_REQUEST', ref: 1, ...asked, haveDigest: none, path: 'big.bin' });
  const offer = await receiveMessage(session, 'GET_OFFER');
  assert.equal(offer.signature, true);
  return { server, session, giveBack, waiting };
}

test("a delta download's signing waits for its client's delta memory, and gives it back", async (t) => {
  const { server, session, giveBack, waiting } = await askWithShareTaken(t);
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

test(
  'a signing waiting for delta memory leaves the queue when its session ends',
  { timeout: 60_000 },
  async (t) => {
    const { server, session, giveBack, waiting } = await askWithShareTaken(t);
    await waiting;
    const closed = new Promise<void>((resolve) =>
      server.events.on('event', (event: { type: string }) => {
        if (event.type === 'session-closed') resolve();
      }),
    );
    session.close();
    // Without the signal the session's end waits for the download it queued, which waits for memory.
    await closed;
    assert.equal(server.deltaMemory.waiting, 0, 'no waiter left behind');
    assert.equal(server.deltaMemory.heldBytes, DELTA_MEMORY_PER_CLIENT_BYTES, 'nothing taken for it');
    giveBack();
    assert.equal(server.deltaMemory.heldBytes, 0);
  },
);
