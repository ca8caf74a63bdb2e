// A delta download in leaves whose connection is cut while its signature arrives (issue 16): the leaf hash
// thread has written the old file's leaves through into the partial ahead of the scan, speculatively, and the
// scan has taken only some. The retry resumes from what the partial's log vouches for alone (or starts a
// fresh delta if it vouches for nothing): the file arrives byte-exact, nothing left behind. End to end over
// loopback through a proxy that cuts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles, type GetEvent } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { startProxiedServer } from '../helpers/proxied-server.js';

const MIB = 1024 * 1024;
const LEAF = 64 * 1024;

for (const afterBytes of [3_000, 12_000]) {
  test(`a delta download in leaves cut after ${afterBytes} bytes of its answer, the old file written through ahead, resumes byte-exact`, async (t) => {
    // 17 MiB (in leaves), 1 MiB rewritten at two places; a signature of 272 leaves (~6 KB) and 2 MiB after it.
    const old = randomBytes(17 * MIB);
    const next = Buffer.from(old);
    for (const at of [2 * MIB, 12 * MIB]) randomBytes(MIB).copy(next, at);
    const r = await startProxiedServer(t, 'ferry-write-through-cut-', {
      authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
      retries: 3,
      plan: (i) => (i === 0 ? { cut: { afterBytes, direction: 'serverToClient' } } : undefined),
    });
    const dest = join(r.dir, 'dest');
    await mkdir(dest);
    await writeFile(join(r.root, 'f.bin'), next);
    await writeFile(join(dest, 'f.bin'), old);
    const events: GetEvent[] = [];
    await getFiles({
      ...r.connect,
      remotePaths: ['f.bin'],
      localDir: dest,
      overwrite: true,
      durableBatchBytes: LEAF,
      onEvent: (e) => events.push(e),
    });
    t.diagnostic(
      events
        .map((e) => e.type)
        .filter((type) => type !== 'progress')
        .join(' '),
    );
    assert.equal(r.proxy.connections.length, 2, 'cut once, then done');
    assert.ok((await readFile(join(dest, 'f.bin'))).equals(next), 'byte-exact after the cut');
    assert.deepEqual(await readdir(dest), ['f.bin'], 'no partial left behind');
  });
}
