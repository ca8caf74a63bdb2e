// The server's key rotation state (PROTOCOL.md §13, src/home/key-rotation-store.ts) on real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatFerryId, generateKeyPair, keyCommitment } from '../../src/crypto/index.js';
import {
  createIdentity,
  finishKeyRotation,
  loadIdentity,
  loadKeyRotation,
  prepareNextKey,
  startKeyRotation,
  writeKeyFile,
} from '../../src/home/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

async function home(t: TestContext): Promise<string> {
  const dir = await makeTempDir('ferry-rotation-home-');
  t.after(() => removeTempDir(dir));
  await createIdentity(join(dir, 'home'));
  return dir;
}

test('prepare keeps only the commitment at home; rotate needs the committed key; finish makes it the identity', async (t) => {
  const dir = await home(t);
  const homeDir = join(dir, 'home');
  assert.equal(await loadKeyRotation(homeDir), undefined, 'nothing prepared');
  const old = await loadIdentity(homeDir);

  const nextPath = join(dir, 'offline-next.key');
  const { commitment } = await prepareNextKey(homeDir, nextPath);
  assert.equal((await stat(nextPath)).mode & 0o777, 0o600);
  assert.deepEqual(await loadKeyRotation(homeDir), { nextCommitment: commitment });

  // Any other key is refused, and nothing changes.
  const otherPath = join(dir, 'other.key');
  await writeKeyFile(otherPath, generateKeyPair());
  await assert.rejects(
    startKeyRotation(homeDir, { nextKeyPath: otherPath, outPath: join(dir, 'unused.key') }),
    (err) => isFerryError(err, 'USAGE_INVALID') && /not the key this server committed to/.test(err.message),
  );
  assert.deepEqual(await loadKeyRotation(homeDir), { nextCommitment: commitment });

  const afterPath = join(dir, 'offline-after.key');
  const { newId, nextCommitment } = await startKeyRotation(homeDir, {
    nextKeyPath: nextPath,
    outPath: afterPath,
  });
  const rotation = await loadKeyRotation(homeDir);
  assert.equal(formatFerryId(rotation?.rotateTo?.identity.publicKey ?? Buffer.alloc(32)), newId);
  assert.deepEqual(rotation?.rotateTo?.nextCommitment, nextCommitment);
  assert.deepEqual(keyCommitment(rotation?.rotateTo?.identity.publicKey ?? Buffer.alloc(32)), commitment);
  assert.deepEqual((await loadIdentity(homeDir)).publicKey, old.publicKey, 'still the old identity');
  await assert.rejects(prepareNextKey(homeDir, join(dir, 'x.key')), (err) =>
    isFerryError(err, 'USAGE_INVALID'),
  );

  const { id } = await finishKeyRotation(homeDir);
  assert.equal(id, newId);
  assert.equal(formatFerryId((await loadIdentity(homeDir)).publicKey), newId);
  assert.deepEqual(await loadKeyRotation(homeDir), { nextCommitment });
  await assert.rejects(finishKeyRotation(homeDir), (err) => isFerryError(err, 'USAGE_INVALID'));
});
