// `ferry pair` records the server's key-rotation commitment (PROTOCOL.md §13.2) from the pairing session
// itself: the server sends KEY_COMMIT right after the WELCOME that follows PAIR_DONE, and the client records
// it with the pin it just made, so a rotation before the client's first normal session still moves its pin.
// Real server with pairing on, real homes, loopback.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { generateKeyPair, keyCommitment, type KeyPair } from '../../src/crypto/index.js';
import { createIdentity, createInvite, lookupKeyCommitment, lookupServer } from '../../src/home/index.js';
import { pairWithServer, pairingPins } from '../../src/client/index.js';
import { FerryServer, allowListAuthorize, type ServerKeyRotation } from '../../src/server/index.js';
import { AllowListWatcher } from '../../src/home/index.js';
import { formatFerryId } from '../../src/crypto/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

async function pairingServer(
  t: TestContext,
  keyRotation: ServerKeyRotation | undefined,
): Promise<{ server: FerryServer; home: string; identity: KeyPair }> {
  const dir = await makeTempDir('ferry-pair-commit-');
  const home = join(dir, 'server-home');
  const identity = await createIdentity(home);
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity,
    home,
    authorize: allowListAuthorize(new AllowListWatcher(home)),
    partialSweepIntervalMs: 0,
    pairing: { homeDir: home },
    ...(keyRotation ? { keyRotation } : {}),
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  return { server, home, identity };
}

async function pairAs(t: TestContext, server: FerryServer, serverHome: string): Promise<string> {
  const clientHome = await makeTempDir('ferry-pair-commit-client-');
  t.after(() => removeTempDir(clientHome));
  const { code } = await createInvite(serverHome, { name: 'laptop', permissions: ['upload'] });
  const address = `127.0.0.1:${server.address.port}`;
  const outcome = await pairWithServer({
    server: server.address,
    identity: generateKeyPair(),
    code,
    ...pairingPins(clientHome, address),
  });
  assert.equal(await lookupServer(clientHome, address), outcome.serverId);
  return clientHome;
}

test('pairing with a server that has a next key prepared records its commitment with the pin', async (t) => {
  const next = generateKeyPair();
  const { server, home, identity } = await pairingServer(t, {
    nextCommitment: keyCommitment(next.publicKey),
  });
  const clientHome = await pairAs(t, server, home);
  const address = `127.0.0.1:${server.address.port}`;
  assert.equal(await lookupServer(clientHome, address), formatFerryId(identity.publicKey));
  assert.deepEqual(await lookupKeyCommitment(clientHome, address), keyCommitment(next.publicKey));
});

test('pairing with a server that has no next key records the pin alone, without waiting', async (t) => {
  const { server, home } = await pairingServer(t, undefined);
  const clientHome = await pairAs(t, server, home);
  assert.equal(await lookupKeyCommitment(clientHome, `127.0.0.1:${server.address.port}`), undefined);
});

test('pairing during a rotation pins the key it paired with and records no commitment (§13.2, §13.4)', async (t) => {
  const next = generateKeyPair();
  const { server, home, identity } = await pairingServer(t, {
    rotateTo: { identity: next, nextCommitment: keyCommitment(generateKeyPair().publicKey) },
  });
  const clientHome = await pairAs(t, server, home);
  const address = `127.0.0.1:${server.address.port}`;
  assert.equal(await lookupServer(clientHome, address), formatFerryId(identity.publicKey));
  assert.equal(await lookupKeyCommitment(clientHome, address), undefined);
});
