// A delta download's client places the old file's leaves it finds in place around the page cache (O_DIRECT),
// as the delta upload's server does (issue 16: 1 GiB of new page cache cost a receiver 0.3-2 CPU s by the VM's
// memory state): its read windows come from the weak checksum's page-aligned slabs, so a window read at a
// leaf boundary is aligned for direct I/O; those after the first difference too, in runs. End to end over
// loopback, every byte checked.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { DIRECT_WRITE_COUNTERS } from '../../src/transfer/index.js';
import { startProxiedServer } from '../helpers/proxied-server.js';

// 17 MiB: signed in leaves (§5.17.2), one MiB of it rewritten.
const BYTES = 17 * 1024 * 1024;

/**
 * Gets `served` over `old` (same name, --overwrite) through a real server on loopback; returns the bytes
 * this process placed directly meanwhile.
 */
async function getOver(t: TestContext, old: Buffer, served: Buffer): Promise<number> {
  const r = await startProxiedServer(t, 'ferry-delta-get-direct-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    retries: 0,
  });
  const dest = join(r.dir, 'dest');
  await mkdir(dest);
  await writeFile(join(r.root, 'disk.img'), served);
  await writeFile(join(dest, 'disk.img'), old);
  const before = DIRECT_WRITE_COUNTERS.bytes;
  await getFiles({ ...r.connect, remotePaths: ['disk.img'], localDir: dest, overwrite: true });
  assert.ok((await readFile(join(dest, 'disk.img'))).equals(served), 'the new file, byte-exact');
  return DIRECT_WRITE_COUNTERS.bytes - before;
}

test('a delta download places the leaves found in place around the page cache, and the file is exact', async (t) => {
  const old = randomBytes(BYTES);
  const served = Buffer.from(old);
  randomBytes(1024 * 1024).copy(served, 16 * 1024 * 1024);
  const placed = await getOver(t, old, served);
  // At least one 4 MiB window of the 16 MiB in place (the server's signing, in this same process, may hold
  // the other slabs meanwhile: those windows are written the ordinary way).
  assert.ok(placed >= 4 * 1024 * 1024, `${placed} bytes placed directly`);
});

test('a delta download places around the page cache the leaves in place after the first difference too', async (t) => {
  const old = randomBytes(BYTES);
  const served = Buffer.from(old);
  // The first MiB rewritten: every leaf in place lies after the first difference.
  randomBytes(1024 * 1024).copy(served, 0);
  const placed = await getOver(t, old, served);
  assert.ok(placed >= 4 * 1024 * 1024, `${placed} bytes placed directly`);
});

test('a delta download places around the page cache the leaves an insertion shifted too', async (t) => {
  const old = randomBytes(BYTES);
  // 1 KiB inserted near the start: the leaves after it are found off the old file's leaf boundaries, in
  // windows read where they lie aligned for direct I/O.
  const served = Buffer.concat([old.subarray(0, 100_000), randomBytes(1024), old.subarray(100_000)]);
  const placed = await getOver(t, old, served);
  assert.ok(placed >= 4 * 1024 * 1024, `${placed} bytes placed directly`);
});
