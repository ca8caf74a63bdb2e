// WARM delta downloads (issue 16): the client's old file was written by ferry itself (an earlier `get`,
// verified leaf by leaf), so its leaf hashes are in the client's store (`KnownLeafHashes` under its cache
// directory, bound to the file's identity) and the delta's scan hashes none of its leaves in place. End to
// end over loopback: the scan's counters say what was hashed; every result is byte-exact. A file changed
// behind ferry's back between deltas (its identity moved) is scanned cold; a warm delta cut in the middle
// resumes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles } from '../../src/client/index.js';
import { OLD_FILE_SCAN_COUNTERS } from '../../src/client/delta-download.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { KnownLeafHashes } from '../../src/transfer/index.js';
import type { PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';

// 272 whole leaves (no short last one, which a scan matches by its own hash): signed in leaves (§5.17.2).
const OLD_BYTES = 17 * 1024 * 1024;
const WHOLE_LEAVES = 272;
const NAME = 'disk.img';

interface Rig {
  r: ProxiedServer;
  dest: string;
  cacheDir: string;
  store: KnownLeafHashes;
}

async function rig(t: TestContext, plan?: PlanFor): Promise<Rig> {
  const r = await startProxiedServer(t, 'ferry-delta-warm-get-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    retries: 3,
    plan,
  });
  const dest = join(r.dir, 'dest');
  await mkdir(dest);
  const cacheDir = join(r.dir, 'cache');
  return { r, dest, cacheDir, store: KnownLeafHashes.at(join(cacheDir, 'leaves')) };
}

/**
 * Leaves a warm scan may still hash: none in place, but where the scan rolls over bytes the server's file
 * lacks (an edit, literals), a weak checksum that happens to equal a block's (rsync's 32-bit sum) is
 * confirmed by hashing the window there. A few per run at most, against every leaf of the file cold.
 */
const STRAY_CANDIDATES = 16;

/** Serves `bytes` and gets it over the local file; what the scan hashed and took from the store meanwhile. */
async function get(g: Rig, bytes: Buffer) {
  await writeFile(join(g.r.root, NAME), bytes);
  const hashed = OLD_FILE_SCAN_COUNTERS.hashedLeaves;
  const known = OLD_FILE_SCAN_COUNTERS.knownLeaves;
  const { down } = await g.r.measure(() =>
    getFiles({
      ...g.r.connect,
      remotePaths: [NAME],
      localDir: g.dest,
      overwrite: true,
      cacheDir: g.cacheDir,
    }),
  );
  await g.store.settled();
  assert.ok((await readFile(join(g.dest, NAME))).equals(bytes), 'the new file, byte-exact');
  return {
    down,
    hashed: OLD_FILE_SCAN_COUNTERS.hashedLeaves - hashed,
    known: OLD_FILE_SCAN_COUNTERS.knownLeaves - known,
  };
}

function edited(from: Buffer, at: readonly number[]): Buffer {
  const next = Buffer.from(from);
  for (const offset of at) randomBytes(2000).copy(next, offset);
  return next;
}

test('a delta download over a file ferry downloaded takes its leaf hashes from the store and hashes none in place', async (t) => {
  const g = await rig(t);
  const first = randomBytes(OLD_BYTES);
  await get(g, first); // nothing there: a plain download, recorded after its rename
  assert.equal(g.store.counters.recorded, 1, 'the downloaded file is known');
  const warm = await get(g, edited(first, [0, 8 * 1024 * 1024 + 5, OLD_BYTES - 70_000]));
  assert.ok(warm.hashed <= STRAY_CANDIDATES, `${warm.hashed} leaves hashed: none in place`);
  assert.ok(warm.known >= WHOLE_LEAVES - 3, `${warm.known} leaves known`);
  assert.ok(warm.down < 1024 * 1024, `${warm.down} bytes received`);
  // The delta's own result is known too: the next one is warm again.
  const again = await get(g, edited(first, [4 * 1024 * 1024]));
  assert.ok(again.hashed <= STRAY_CANDIDATES, `${again.hashed} leaves hashed`);
});

test('a delta download over a file changed behind ferry is scanned cold, and right', async (t) => {
  const g = await rig(t);
  const first = randomBytes(OLD_BYTES);
  await get(g, first);
  // Rewritten in place with its own bytes: the content stays, the identity (ctime) moves.
  const handle = await open(join(g.dest, NAME), 'r+');
  await handle.write(first, 0, 4096, 0);
  await handle.close();
  const cold = await get(g, edited(first, [8 * 1024 * 1024]));
  assert.equal(cold.known, 0, 'the store is not used for another version');
  assert.ok(cold.hashed >= WHOLE_LEAVES - 1, `${cold.hashed} leaves hashed`);
});

test('a warm delta download cut in the middle resumes and places the file byte-exact', async (t) => {
  // Connection 0 is the first get; the warm delta's first connection is cut once it has received 2 MiB.
  const g = await rig(t, (i) =>
    i === 1 ? { cut: { afterBytes: 2 * 1024 * 1024, direction: 'serverToClient' } } : undefined,
  );
  const first = randomBytes(OLD_BYTES);
  await get(g, first);
  // Literals from 6 MiB on, so the cut lands while leaves are received.
  const next = Buffer.concat([first.subarray(0, 6 * 1024 * 1024), randomBytes(OLD_BYTES - 6 * 1024 * 1024)]);
  const warm = await get(g, next);
  assert.ok(g.r.proxy.connections.length >= 3, 'cut once, resumed');
  assert.ok(warm.hashed <= STRAY_CANDIDATES, `${warm.hashed} leaves hashed: none in place`);
});
