// Delta uploads at their edges (PROTOCOL.md §5.15), the cases test/integration/delta-uploads.test.ts leaves out:
// an emptied file, and an old file too small to be a base (under one block), both replaced byte-exact over
// real TCP on loopback.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sendFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { startProxiedServer } from '../helpers/proxied-server.js';

const NAME = 'data.bin';

async function replace(t: TestContext, old: Buffer, next: Buffer): Promise<{ up: number; placed: Buffer }> {
  const r = await startProxiedServer(t, 'ferry-delta-edges-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    retries: 0,
  });
  await mkdir(join(r.dir, 'src'));
  await writeFile(join(r.root, NAME), old);
  await writeFile(join(r.dir, 'src', NAME), next);
  const { up } = await r.measure(() =>
    sendFiles({ ...r.connect, files: [join(r.dir, 'src', NAME)], overwrite: true }),
  );
  return { up, placed: await readFile(join(r.root, NAME)) };
}

test('delta upload of an emptied file: the server’s file becomes empty', async (t) => {
  const { placed, up } = await replace(t, randomBytes(600 * 1024), Buffer.alloc(0));
  assert.equal(placed.length, 0);
  assert.ok(up < 8 * 1024, `${up} bytes client->server`);
});

test('delta upload onto an empty old file (under one block, no base): the new file goes whole, byte-exact', async (t) => {
  const next = randomBytes(600 * 1024);
  const { placed, up } = await replace(t, Buffer.alloc(0), next);
  assert.ok(placed.equals(next));
  assert.ok(up > next.length, `${up} bytes: the whole file travelled`);
});
