import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFerryId } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { AllowListWatcher, allowClient, revokeClient } from '../../src/home/index.js';
import { allowListAuthorize } from '../../src/index.js';

async function tempHome(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-authorize-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('`allowListAuthorize` grants an allowed key its name, permission bits and confined root', async (t) => {
  const home = await tempHome(t);
  const uploader = randomBytes(32);
  const reader = randomBytes(32);
  await allowClient(home, formatFerryId(uploader), {
    name: 'laptop',
    permissions: ['upload'],
    root: 'inbox',
  });
  await allowClient(home, formatFerryId(reader), { permissions: ['download', 'upload'] });
  const authorize = allowListAuthorize(home);
  assert.deepEqual(await authorize(uploader), {
    name: 'laptop',
    permissions: PERMISSION_UPLOAD,
    root: 'inbox',
  });
  assert.deepEqual(await authorize(reader), {
    name: undefined,
    permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD,
    root: undefined,
  });
});

test('`allowListAuthorize` refuses an unknown key, and a key revoked while the server runs from its next session', async (t) => {
  const home = await tempHome(t);
  const key = randomBytes(32);
  const authorize = allowListAuthorize(new AllowListWatcher(home));
  assert.equal(await authorize(key), undefined, 'no allow-list yet');
  await allowClient(home, formatFerryId(key), { permissions: ['upload'] });
  assert.equal((await authorize(key))?.permissions, PERMISSION_UPLOAD, 'allowed without a restart');
  assert.equal(await authorize(randomBytes(32)), undefined, 'another key');
  await revokeClient(home, formatFerryId(key));
  assert.equal(await authorize(key), undefined, 'revoked without a restart');
});
