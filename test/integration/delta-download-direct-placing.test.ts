// A delta download's client places the old file's leaves it finds in place around the page cache (O_DIRECT),
// as the delta upload's server does (issue 16: 1 GiB of new page cache cost a receiver 0.3-2 CPU s by the VM's
// memory state): its read windows come from the weak checksum's page-aligned slabs, so a window read at a
// leaf boundary is aligned for direct I/O. End to end over loopback, every byte checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { DIRECT_WRITE_COUNTERS } from '../../src/transfer/index.js';
import { startProxiedServer } from '../helpers/proxied-server.js';

// 17 MiB: signed in leaves (§5.17.2); its last MiB rewritten, so the 16 MiB before it are found in place.
const BYTES = 17 * 1024 * 1024;

test('a delta download places the leaves found in place around the page cache, and the file is exact', async (t) => {
  const r = await startProxiedServer(t, 'ferry-delta-get-direct-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    retries: 0,
  });
  const dest = join(r.dir, 'dest');
  await mkdir(dest);
  const old = randomBytes(BYTES);
  const served = Buffer.from(old);
  randomBytes(1024 * 1024).copy(served, 16 * 1024 * 1024);
  await writeFile(join(r.root, 'disk.img'), served);
  await writeFile(join(dest, 'disk.img'), old);
  const before = DIRECT_WRITE_COUNTERS.bytes;
  await getFiles({ ...r.connect, remotePaths: ['disk.img'], localDir: dest, overwrite: true });
  assert.ok((await readFile(join(dest, 'disk.img'))).equals(served), 'the new file, byte-exact');
  // At least one 4 MiB window of the 16 MiB in place (the server's signing, in this same process, may hold
  // the other slabs meanwhile: those windows are written the ordinary way).
  assert.ok(
    DIRECT_WRITE_COUNTERS.bytes - before >= 4 * 1024 * 1024,
    `${DIRECT_WRITE_COUNTERS.bytes - before} bytes placed directly`,
  );
});
