import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFerryId } from '../../src/crypto/ferry-id.js';
import { isFerryError } from '../../src/errors/index.js';
import { createIdentity, loadIdentity, loadOrCreateIdentity } from '../../src/home/index.js';

const POSIX = process.platform !== 'win32';

async function tempHome(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-identity-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('`createIdentity` writes identity.key with mode 0600 and identity.pub with the ferry ID', async (t) => {
  const home = join(await tempHome(t), 'home');
  const keyPair = await createIdentity(home);
  const keyPath = join(home, 'identity.key');
  if (POSIX) assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
  assert.match(
    await readFile(keyPath, 'utf8'),
    /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=]{64}\n-----END PRIVATE KEY-----\n$/,
  );
  assert.equal(await readFile(join(home, 'identity.pub'), 'utf8'), `${formatFerryId(keyPair.publicKey)}\n`);
});

test('`createIdentity` writes the same PEM node itself would export', async (t) => {
  const home = await tempHome(t);
  await createIdentity(home);
  const pem = await readFile(join(home, 'identity.key'), 'utf8');
  assert.equal(createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }), pem);
});

test('`loadIdentity` returns the key pair `createIdentity` made', async (t) => {
  const home = await tempHome(t);
  const created = await createIdentity(home);
  const loaded = await loadIdentity(home);
  assert.deepEqual(loaded.publicKey, created.publicKey);
  assert.equal(loaded.privateKey.asymmetricKeyType, 'x25519');
});

test('`createIdentity` refuses to overwrite an identity without force (KEY_EXISTS)', async (t) => {
  const home = await tempHome(t);
  const first = await createIdentity(home);
  await assert.rejects(createIdentity(home), (err) => isFerryError(err, 'KEY_EXISTS'));
  assert.deepEqual((await loadIdentity(home)).publicKey, first.publicKey);
});

test('`createIdentity` with force replaces the identity, still mode 0600', async (t) => {
  const home = await tempHome(t);
  const first = await createIdentity(home);
  const second = await createIdentity(home, { force: true });
  assert.notDeepEqual(second.publicKey, first.publicKey);
  assert.deepEqual((await loadIdentity(home)).publicKey, second.publicKey);
  if (POSIX) assert.equal((await stat(join(home, 'identity.key'))).mode & 0o777, 0o600);
  assert.equal(await readFile(join(home, 'identity.pub'), 'utf8'), `${formatFerryId(second.publicKey)}\n`);
});

test('`loadIdentity` reports a missing key as KEY_NOT_FOUND pointing at `ferry keygen`', async (t) => {
  const home = await tempHome(t);
  await assert.rejects(
    loadIdentity(home),
    (err) => isFerryError(err, 'KEY_NOT_FOUND') && /ferry keygen/.test(err.message),
  );
});

for (const mode of [0o640, 0o644, 0o604, 0o620]) {
  test(
    `\`loadIdentity\` refuses a key file with mode 0${mode.toString(8)} (KEY_FILE_INSECURE)`,
    { skip: !POSIX },
    async (t) => {
      const home = await tempHome(t);
      await createIdentity(home);
      const keyPath = join(home, 'identity.key');
      await chmod(keyPath, mode);
      await assert.rejects(
        loadIdentity(home),
        (err) =>
          isFerryError(err, 'KEY_FILE_INSECURE') &&
          err.message.includes(`0${mode.toString(8)}`) &&
          err.message.includes('chmod 600'),
      );
    },
  );
}

test('`loadIdentity` refuses a malformed key file (KEY_FILE_INVALID)', async (t) => {
  const home = await tempHome(t);
  const keyPath = join(home, 'identity.key');
  for (const content of [
    '',
    'not a key\n',
    '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
  ]) {
    await writeFile(keyPath, content, { mode: 0o600 });
    await assert.rejects(
      loadIdentity(home),
      (err) => isFerryError(err, 'KEY_FILE_INVALID'),
      JSON.stringify(content),
    );
  }
});

test('`loadIdentity` refuses a key that is not X25519 (KEY_FILE_INVALID)', async (t) => {
  const home = await tempHome(t);
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
  await writeFile(join(home, 'identity.key'), pem, { mode: 0o600 });
  await assert.rejects(
    loadIdentity(home),
    (err) => isFerryError(err, 'KEY_FILE_INVALID') && /ed25519/.test(err.message),
  );
});

test('`loadOrCreateIdentity` creates once, then loads the same key', async (t) => {
  const home = join(await tempHome(t), 'fresh');
  const first = await loadOrCreateIdentity(home);
  assert.equal(first.created, true);
  const second = await loadOrCreateIdentity(home);
  assert.equal(second.created, false);
  assert.deepEqual(second.keyPair.publicKey, first.keyPair.publicKey);
});

test('`loadIdentity` honours an aborted signal', async (t) => {
  const home = await tempHome(t);
  await createIdentity(home);
  await assert.rejects(loadIdentity(home, { signal: AbortSignal.abort() }), { name: 'AbortError' });
});
