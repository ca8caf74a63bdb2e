// The server's side of a WARM delta download (issue 16): a file the server signed whole for a delta download
// is recorded in its store of leaf hashes (`KnownLeafHashes` under its root's `.ferry/leaves/`, bound to the
// file's identity), so the next delta download of that same version signs it from the store, reading and
// hashing none of it. A file changed behind ferry's back (its identity moved) is signed cold again. End to
// end over loopback, the signing's counters saying what was read and hashed; every result byte-exact.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { SIGNING_COUNTERS } from '../../src/transfer/index.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';

// 272 whole leaves: signed in leaves (§5.17.2).
const BYTES = 17 * 1024 * 1024;
const LEAVES = 272;
const NAME = 'disk.img';

async function rig(t: TestContext): Promise<{ r: ProxiedServer; dest: string }> {
  const r = await startProxiedServer(t, 'ferry-delta-get-server-known-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    retries: 0,
  });
  const dest = join(r.dir, 'dest');
  await mkdir(dest);
  return { r, dest };
}

function edited(from: Buffer, at: readonly number[]): Buffer {
  const next = Buffer.from(from);
  for (const offset of at) randomBytes(2000).copy(next, offset);
  return next;
}

/**
 * Gets the server's file over the local one, `local` (a differing old file, so the get is a delta and the
 * server signs); what the server's signing hashed, read and took from its store meanwhile.
 */
async function get(g: { r: ProxiedServer; dest: string }, served: Buffer, local: Buffer) {
  await writeFile(join(g.dest, NAME), local);
  const before = { ...SIGNING_COUNTERS };
  const { down } = await g.r.measure(() =>
    getFiles({ ...g.r.connect, remotePaths: [NAME], localDir: g.dest, overwrite: true }),
  );
  assert.ok((await readFile(join(g.dest, NAME))).equals(served), 'the new file, byte-exact');
  assert.ok(down < 1024 * 1024, `${down} bytes received: a delta`);
  return {
    hashed: SIGNING_COUNTERS.hashedLeaves - before.hashedLeaves,
    read: SIGNING_COUNTERS.readLeaves - before.readLeaves,
    known: SIGNING_COUNTERS.knownLeaves - before.knownLeaves,
  };
}

test('a delta download of a file the server signed before signs it from the store, reading nothing', async (t) => {
  const g = await rig(t);
  const served = randomBytes(BYTES);
  await writeFile(join(g.r.root, NAME), served);
  const cold = await get(g, served, edited(served, [0, 9 * 1024 * 1024]));
  assert.equal(cold.hashed, LEAVES, 'the first signing hashes every leaf');
  const warm = await get(g, served, edited(served, [4 * 1024 * 1024, BYTES - 70_000]));
  assert.deepEqual(warm, { hashed: 0, read: 0, known: LEAVES }, 'the second signs from the store');
});

test('a file changed behind ferry on the server is signed cold again, and right', async (t) => {
  const g = await rig(t);
  const first = randomBytes(BYTES);
  await writeFile(join(g.r.root, NAME), first);
  await get(g, first, edited(first, [0]));
  // Rewritten in place: its identity (mtime, ctime) moves, whatever the bytes.
  const served = edited(first, [8 * 1024 * 1024]);
  const handle = await open(join(g.r.root, NAME), 'r+');
  await handle.write(served, 8 * 1024 * 1024, 2000, 8 * 1024 * 1024);
  await handle.close();
  const cold = await get(g, served, first);
  assert.equal(cold.known, 0, 'the store is not used for another version');
  assert.equal(cold.hashed, LEAVES, 'every leaf hashed');
});
