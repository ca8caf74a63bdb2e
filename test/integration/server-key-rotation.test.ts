// Server key rotation (PROTOCOL.md §13) over loopback, real servers, real home directories: a server announces
// the commitment to its next key; after its operator brings that key online, a client pinned to the old key
// connects, checks the proof and moves its pin; a server that holds the old key but not the committed next key
// cannot move the pin.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatFerryId, generateKeyPair, keyCommitment, type KeyPair } from '../../src/crypto/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type { ServerKeyRotation } from '../../src/server/index.js';
import {
  checkServerKey,
  knownServersPath,
  lookupKeyCommitment,
  lookupServer,
  pinServer,
} from '../../src/home/index.js';
import { sendFiles, serverKeyUpdater } from '../../src/client/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

// The pins are kept for this name whatever port a test server gets, so one client meets several servers.
const ADDRESS = 'files.example:7443';

interface Client {
  home: string;
  identity: KeyPair;
  /** Sends one small file to the server on `port` with the CLI's pin check and key updater. */
  send: (port: number) => Promise<void>;
}

async function client(t: TestContext): Promise<Client> {
  const home = await makeTempDir('ferry-rotation-client-');
  t.after(() => removeTempDir(home));
  const identity = generateKeyPair();
  const source = join(home, 'note.txt');
  await writeFile(source, 'rotated\n');
  return {
    home,
    identity,
    send: async (port) => {
      await sendFiles({
        server: { host: '127.0.0.1', port },
        identity,
        verifyServer: async (publicKey) => {
          await checkServerKey(home, { address: ADDRESS, publicKey });
        },
        onServerKey: serverKeyUpdater(home, ADDRESS),
        retry: { retries: 0 },
        files: [source],
        overwrite: true,
      });
    },
  };
}

async function server(t: TestContext, identity: KeyPair, keyRotation?: ServerKeyRotation): Promise<number> {
  const { server: ferry } = await startTempDirServer(t, 'ferry-rotation-server-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    identity,
    ...(keyRotation ? { keyRotation } : {}),
  });
  return ferry.address.port;
}

test('KEY_COMMIT is recorded with the pin once; a later announcement of another commitment does not replace it', async (t) => {
  const old = generateKeyPair();
  const next = generateKeyPair();
  const c = await client(t);
  await pinServer(c.home, { address: ADDRESS, id: formatFerryId(old.publicKey) });
  assert.equal(await lookupKeyCommitment(c.home, ADDRESS), undefined);

  await c.send(await server(t, old, { nextCommitment: keyCommitment(next.publicKey) }));
  assert.deepEqual(await lookupKeyCommitment(c.home, ADDRESS), keyCommitment(next.publicKey));

  // The same key announcing another next key (a thief of the current key would): ignored.
  await c.send(await server(t, old, { nextCommitment: keyCommitment(generateKeyPair().publicKey) }));
  assert.deepEqual(await lookupKeyCommitment(c.home, ADDRESS), keyCommitment(next.publicKey));
});

test('a client pinned to the old key connects after the rotation and its pin moves to the committed key; the old key is accepted until the server shows the new one', async (t) => {
  const old = generateKeyPair();
  const next = generateKeyPair();
  const after = generateKeyPair();
  const c = await client(t);
  await pinServer(c.home, { address: ADDRESS, id: formatFerryId(old.publicKey) });
  await c.send(await server(t, old, { nextCommitment: keyCommitment(next.publicKey) }));

  // The operator brings the committed key online: the server still handshakes with the old key and proves the
  // new one in every session, with the commitment to the key after it.
  const rotating = await server(t, old, {
    rotateTo: { identity: next, nextCommitment: keyCommitment(after.publicKey) },
  });
  await c.send(rotating);
  assert.equal(await lookupServer(c.home, ADDRESS), formatFerryId(next.publicKey), 'the pin moved');
  assert.deepEqual(await lookupKeyCommitment(c.home, ADDRESS), keyCommitment(after.publicKey));
  const file = JSON.parse(await readFile(knownServersPath(c.home), 'utf8')) as {
    servers: Record<string, { id: string; prev?: string }>;
  };
  assert.equal(file.servers[ADDRESS]?.prev, formatFerryId(old.publicKey), 'the old key is kept as prev');

  // Until the operator finishes, the server still shows the old key: accepted, and the rotation is a no-op.
  await c.send(rotating);
  assert.equal(await lookupServer(c.home, ADDRESS), formatFerryId(next.publicKey));

  // Finished: the server handshakes with the new key; the client connects, and drops the old key.
  await c.send(await server(t, next, { nextCommitment: keyCommitment(after.publicKey) }));
  const finished = JSON.parse(await readFile(knownServersPath(c.home), 'utf8')) as {
    servers: Record<string, { id: string; prev?: string }>;
  };
  assert.equal(finished.servers[ADDRESS]?.prev, undefined, 'prev dropped once the new key was seen');
  await assert.rejects(c.send(await server(t, old)), { code: 'SERVER_KEY_CHANGED' }, 'the old key is over');
});

test('a server that holds the old key but not the committed next key cannot move the pin', async (t) => {
  const old = generateKeyPair();
  const next = generateKeyPair();
  const c = await client(t);
  await pinServer(c.home, { address: ADDRESS, id: formatFerryId(old.publicKey) });
  await c.send(await server(t, old, { nextCommitment: keyCommitment(next.publicKey) }));

  // A thief with the old key rotates to a key of its own, with a valid proof for that key.
  const thief = generateKeyPair();
  const stolen = await server(t, old, {
    rotateTo: { identity: thief, nextCommitment: keyCommitment(generateKeyPair().publicKey) },
  });
  await assert.rejects(c.send(stolen), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'SERVER_KEY_CHANGED');
    assert.match(err.message, /commitment does not name/);
    return true;
  });
  assert.equal(await lookupServer(c.home, ADDRESS), formatFerryId(old.publicKey), 'the pin stays');
  assert.deepEqual(await lookupKeyCommitment(c.home, ADDRESS), keyCommitment(next.publicKey));
});

test('a client with no recorded commitment never moves its pin, whatever the server proves', async (t) => {
  const old = generateKeyPair();
  const c = await client(t);
  await pinServer(c.home, { address: ADDRESS, id: formatFerryId(old.publicKey) });
  const port = await server(t, old, {
    rotateTo: { identity: generateKeyPair(), nextCommitment: keyCommitment(generateKeyPair().publicKey) },
  });
  await assert.rejects(c.send(port), { code: 'SERVER_KEY_CHANGED' });
  assert.equal(await lookupServer(c.home, ADDRESS), formatFerryId(old.publicKey));
});
