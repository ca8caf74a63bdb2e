// WARM delta uploads (issue 16): the server's old file was written by ferry itself (an earlier upload,
// verified leaf by leaf) or signed whole before, so its leaf hashes are in the server's store
// (`KnownLeafHashes`, bound to the file's identity) and the delta's signing hashes no leaf of it. End to end
// over loopback: the signing's counters say what was hashed, and every result is byte-exact. A file changed
// behind ferry's back between deltas (its identity moved) is signed cold; a warm delta cut in the middle
// resumes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sendFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { SIGNING_COUNTERS } from '../../src/transfer/index.js';
import type { PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer, type ProxiedServer } from '../helpers/proxied-server.js';

const CHUNK_BYTES = 1024 * 1024;
const OLD_BYTES = 16 * 1024 * 1024 + 4321; // 257 leaves, signed in leaves (PROTOCOL.md §5.15.2)
const LEAVES = 257;
const NAME = 'disk.img';

async function rig(t: TestContext, plan?: PlanFor): Promise<{ r: ProxiedServer; source: string }> {
  const r = await startProxiedServer(t, 'ferry-delta-warm-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    retries: 3,
    plan,
  });
  await mkdir(join(r.dir, 'src'));
  return { r, source: join(r.dir, 'src', NAME) };
}

/** Sends `bytes` as the source file (replacing the server's), and what the signing hashed meanwhile. */
async function send(r: ProxiedServer, source: string, bytes: Buffer) {
  await writeFile(source, bytes);
  const hashed = SIGNING_COUNTERS.hashedLeaves;
  const known = SIGNING_COUNTERS.knownLeaves;
  const { up } = await r.measure(() =>
    sendFiles({ ...r.connect, files: [source], chunkBytes: CHUNK_BYTES, overwrite: true }),
  );
  // The store's records are written in the background after the rename.
  await r.server.knownLeafHashes!.settled();
  const placed = await readFile(join(r.root, NAME));
  assert.ok(placed.equals(bytes), 'the new file, byte-exact');
  return {
    up,
    hashed: SIGNING_COUNTERS.hashedLeaves - hashed,
    known: SIGNING_COUNTERS.knownLeaves - known,
  };
}

function edited(from: Buffer, at: readonly number[]): Buffer {
  const next = Buffer.from(from);
  for (const offset of at) randomBytes(2000).copy(next, offset);
  return next;
}

test('a delta upload against a file ferry uploaded signs from the known leaf hashes, and so does the next one', async (t) => {
  const { r, source } = await rig(t);
  const first = randomBytes(OLD_BYTES);
  // Not a delta (nothing there): recorded after the rename.
  await send(r, source, first);
  const store = r.server.knownLeafHashes!;
  assert.equal(store.counters.recorded, 1, 'the uploaded file is known');
  // In place: the same size, placed while signed; the leaves known, none hashed.
  const second = edited(first, [0, 8 * 1024 * 1024 + 5, OLD_BYTES - 3000]);
  const warm = await send(r, source, second);
  assert.equal(warm.hashed, 0, 'no leaf of the old file hashed to sign it');
  assert.equal(warm.known, LEAVES);
  assert.ok(warm.up < 1024 * 1024, `${warm.up} bytes sent`);
  assert.equal(store.counters.hits, 1);
  // That upload's file is known too (recorded after its rename): an insertion against it signs from it too.
  const third = Buffer.concat([second.subarray(0, 1000), randomBytes(1024), second.subarray(1000)]);
  const warmer = await send(r, source, third);
  assert.equal(warmer.hashed, 0);
  assert.equal(warmer.known, LEAVES);
  assert.ok(warmer.up < 1024 * 1024, `${warmer.up} bytes sent`);
});

test('a file changed behind ferry between deltas is signed cold, then known again', async (t) => {
  const { r, source } = await rig(t);
  const first = randomBytes(OLD_BYTES);
  await send(r, source, first);
  // Rewritten in place on the server, same size: the identity moves (ctime), the store's entry no longer fits.
  const behind = edited(first, [4 * 1024 * 1024]);
  const handle = await open(join(r.root, NAME), 'r+');
  await handle.write(behind.subarray(4 * 1024 * 1024, 4 * 1024 * 1024 + 2000), 0, 2000, 4 * 1024 * 1024);
  await handle.close();
  const next = edited(behind, [12 * 1024 * 1024]);
  const cold = await send(r, source, next);
  assert.equal(cold.hashed, LEAVES, 'the changed file is hashed whole');
  assert.equal(cold.known, 0);
  const again = await send(r, source, edited(next, [100]));
  assert.equal(again.hashed, 0, 'known again after that upload');
});

test('a cold delta records what it signed: the second delta against any file is warm', async (t) => {
  const { r, source } = await rig(t);
  const first = randomBytes(OLD_BYTES);
  // Put there by someone else: unknown to ferry.
  await writeFile(join(r.root, NAME), first);
  const cold = await send(r, source, edited(first, [100]));
  assert.equal(cold.hashed, LEAVES);
  // The file the cold delta placed is known (recorded after its rename), as is the old one it signed.
  const warm = await send(r, source, edited(first, [200]));
  assert.equal(warm.hashed, 0);
});

test('a warm delta upload cut in the middle resumes and replaces the file byte-exact', async (t) => {
  const { r, source } = await rig(t, (i) => (i === 1 ? { cut: { afterBytes: 4 * 1024 * 1024 } } : undefined));
  const first = randomBytes(OLD_BYTES);
  await send(r, source, first); // connection 0
  // Literals from 6 MiB on, so the cut lands while chunks are sent; resumed on connection 2.
  const next = Buffer.concat([first.subarray(0, 6 * 1024 * 1024), randomBytes(OLD_BYTES - 6 * 1024 * 1024)]);
  const warm = await send(r, source, next);
  assert.equal(r.proxy.connections.length, 3, 'cut once, resumed once');
  assert.equal(warm.hashed, 0, 'both attempts signed from the known leaves');
});
