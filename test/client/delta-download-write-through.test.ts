// A cold delta download reads its old file once (issue 16): the leaf hash thread that hashes each old leaf
// where it lies also writes it through into the partial at the same offset, speculatively, and the scan takes
// a leaf so written as found in place and placed, without reading it, once it is the server's leaf there by
// the hash the thread took of those very bytes (after the old file's identity check). Those bytes count for
// nothing until then: a scan cut short leaves only the leaves it took in the partial's log, and an old file
// changed during the scan gives no leaf whose bytes are not the server's. Real old files, the real partial
// beside them on disk (the store whose descriptor opened for direct I/O the thread writes through).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  OLD_FILE_SCAN_COUNTERS,
  takeLeaves,
  type OldFile,
  type SignatureArrival,
} from '../../src/client/delta-download.js';
import { downloadPartialPaths, downloadPartialsFrom } from '../../src/client/download-partials.js';
import { openForScan, type OpenedForScan, type ScanOptions } from '../../src/client/old-file-scans.js';
import { ScanHashesAhead } from '../../src/client/scan-hashes-ahead.js';
import { LEAF_BYTES, deltaSignatureOf, leafHash } from '../../src/protocol/index.js';
import {
  DIRECT_WRITE_COUNTERS,
  LeafHashesAhead,
  PartialTransfer,
  resolveUnderRoot,
  type RootPath,
} from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const LEAVES = 300; // more than four 4 MiB windows, signed in leaves
const MIB = 1024 * 1024;
const SERVER_KEY = Buffer.alloc(32, 7);

/** `old` as the file to be replaced, opened for a scan of `served` as a download opens it at the offer. */
async function openedAtOffer(
  t: TestContext,
  old: Buffer,
  served: Buffer,
  options: ScanOptions = {},
): Promise<{ opened: OpenedForScan; target: RootPath; path: string }> {
  const dir = await makeTempDir('ferry-write-through-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'f');
  await writeFile(path, old);
  const target = await resolveUnderRoot(dir, ['f'], { createDirs: false });
  const opened = await openForScan(
    downloadPartialsFrom(SERVER_KEY),
    target,
    { size: served.length },
    LEAF_BYTES,
    options,
  );
  t.after(async () => {
    if (opened.known instanceof LeafHashesAhead) await opened.known.stop();
    await opened.partial.close().catch(() => undefined);
    await opened.old.close();
  });
  assert.ok(opened.known instanceof LeafHashesAhead, 'hashed in place from the offer');
  return { opened, target, path };
}

/**
 * The scan's view of the old file, every byte it reads counted (the thread's reads are its own), and every
 * check of its identity.
 */
function countingReads(opened: OpenedForScan): { old: OldFile; read: () => number; checks: () => number } {
  let read = 0;
  let checks = 0;
  return {
    old: {
      size: opened.old.size,
      readExactly: (buffer, offset, length, position) => {
        read += length;
        return opened.old.readExactly(buffer, offset, length, position);
      },
      assertUnchanged: () => {
        checks++;
        return opened.old.assertUnchanged();
      },
    },
    read: () => read,
    checks: () => checks,
  };
}

/** `takeLeaves` from `old` for `served` with its signature (arriving by `arrival`, else whole). */
function takeSigned(old: OldFile, served: Buffer, opened: OpenedForScan, arrival?: SignatureArrival) {
  return takeLeaves(
    old,
    { signature: deltaSignatureOf(served, LEAF_BYTES), digest: Buffer.alloc(32) },
    opened.partial,
    arrival,
    new ScanHashesAhead(),
    opened.known,
  );
}

/** Every leaf `held` names holds in the partial's data file the served leaf, with that hash. */
async function assertHeldBytes(
  target: RootPath,
  held: Iterable<{ index: number; hash: Buffer }>,
  served: Buffer,
) {
  const bytes = await readFile(downloadPartialPaths(target).dataPath);
  let count = 0;
  for (const { index, hash } of held) {
    const at = index * LEAF_BYTES;
    const leaf = bytes.subarray(at, Math.min(at + LEAF_BYTES, served.length));
    assert.ok(leafHash(leaf).equals(hash), `leaf ${index}: the partial holds the bytes of its hash`);
    assert.ok(leaf.equals(served.subarray(at, at + leaf.length)), `leaf ${index} is the served leaf`);
    count++;
  }
  return count;
}

/** A signature arriving up to `blocks` blocks at once, the rest once `release` is called. */
function heldBack(blocks: number, total: number) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let fail!: (err: Error) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  let waiting!: () => void;
  const waited = new Promise<void>((resolve) => (waiting = resolve));
  const arrival: SignatureArrival = {
    waitFor: async (want) => {
      if (want <= blocks) return blocks;
      waiting();
      await Promise.race([released, failed]);
      return total;
    },
    digest: () => Promise.resolve(Buffer.alloc(32)),
  };
  return { arrival, release, fail, waited };
}

test('takeLeaves reads none of the old file the leaf hash thread wrote through in place, and holds the served bytes', async (t) => {
  const oldBytes = randomBytes(LEAVES * LEAF_BYTES + 100);
  const served = Buffer.from(oldBytes);
  for (const leaf of [5, 150]) randomBytes(100).copy(served, leaf * LEAF_BYTES + 10); // rewritten in place
  const { opened, target } = await openedAtOffer(t, oldBytes, served);
  const { old, read, checks } = countingReads(opened);
  const direct = DIRECT_WRITE_COUNTERS.bytes;
  const taken = await takeSigned(old, served, opened);
  await opened.partial.close();
  for (let leaf = 0; leaf <= LEAVES; leaf++)
    assert.equal(taken.held.has(leaf), leaf !== 5 && leaf !== 150, `leaf ${leaf} held`);
  assert.equal(await assertHeldBytes(target, taken.held.entries(), served), LEAVES - 1);
  // Read by the scan: the windows from each edit (4 MiB and two leaves) and the short last leaf's; without
  // the thread writing through, the whole file (19 MiB), once more.
  assert.ok(read() < 9 * MIB, `the scan read ${read()} bytes of ${oldBytes.length}`);
  // The old file's identity, checked after the thread's writes of a window's leaves landed, vouches for
  // taking them and for counting them: no second check per window for their acceptance (16 before), and
  // one check per 16 MiB written through (12 before).
  assert.ok(checks() <= 8, `${checks()} identity checks of the old file`);
  // The thread's writes went around the page cache, as the scan's placing did.
  assert.ok(DIRECT_WRITE_COUNTERS.bytes - direct >= (LEAVES - 70) * LEAF_BYTES, 'written through directly');
});

test("takeLeaves checks the old file's identity once per 16 MiB the thread wrote through, not once per 4 MiB window", async (t) => {
  const oldBytes = randomBytes(LEAVES * LEAF_BYTES + 100);
  const served = Buffer.from(oldBytes);
  randomBytes(100).copy(served, 290 * LEAF_BYTES + 10); // one leaf rewritten, 18 MiB in
  const { opened, target } = await openedAtOffer(t, oldBytes, served);
  const { old, checks } = countingReads(opened);
  const taken = await takeSigned(old, served, opened);
  await opened.partial.close();
  assert.equal(taken.held.knownCount, LEAVES, 'every leaf but the rewritten one held');
  assert.equal(await assertHeldBytes(target, taken.held.entries(), served), LEAVES);
  // Leaves 0-289 written through: one check for leaves 0-255, one for 256-289 (five, one per 4 MiB window,
  // before); then the edit's window read, its placed leaves accepted, and the short last leaf's.
  assert.ok(checks() <= 5, `${checks()} identity checks of the old file`);
});

test('takeLeaves rolls over a span rewritten in place once, after the signature is whole, not once before and again after', async (t) => {
  const oldBytes = randomBytes(LEAVES * LEAF_BYTES);
  const served = Buffer.from(oldBytes);
  randomBytes(MIB).copy(served, 20 * LEAF_BYTES); // leaves 20-35 rewritten
  const { opened, target } = await openedAtOffer(t, oldBytes, served);
  // 200 blocks arrive, the rest once the scan waits for them.
  const held = heldBack(200, LEAVES);
  void held.waited.then(() => held.release());
  const rolled = OLD_FILE_SCAN_COUNTERS.rolledOffsets;
  const taken = await takeSigned(opened.old, served, opened, held.arrival);
  await opened.partial.close();
  for (let leaf = 0; leaf < LEAVES; leaf++)
    assert.equal(taken.held.has(leaf), leaf < 20 || leaf > 35, `leaf ${leaf} held`);
  assert.equal(await assertHeldBytes(target, taken.held.entries(), served), LEAVES - 16);
  // The rewritten MiB rolled over once (twice before: scanned with 200 blocks, then again with all 300).
  const offsets = OLD_FILE_SCAN_COUNTERS.rolledOffsets - rolled;
  assert.ok(offsets >= MIB - LEAF_BYTES && offsets <= MIB + LEAF_BYTES, `${offsets} offsets rolled`);
});

test('a scan cut in the middle of the write-through leaves only the leaves it took in the log, each the served bytes', async (t) => {
  const oldBytes = randomBytes(LEAVES * LEAF_BYTES);
  const served = Buffer.from(oldBytes);
  randomBytes(100).copy(served, 3 * LEAF_BYTES); // a difference early: the leaves taken count as they go
  // Leaves made durable (logged) 8 at a time, so some are before the cut.
  let durable!: () => void;
  const someDurable = new Promise<void>((resolve) => (durable = resolve));
  const { opened, target } = await openedAtOffer(t, oldBytes, served, {
    durableBatchBytes: 8 * LEAF_BYTES,
    onDurable: (verified) => verified > 0 && durable(),
  });
  const signature = deltaSignatureOf(served, LEAF_BYTES);
  // 200 blocks arrive, then the answer fails (the connection cut) while the thread writes the rest through.
  const cut = heldBack(200, LEAVES);
  const scanning = takeLeaves(
    opened.old,
    { signature },
    opened.partial,
    cut.arrival,
    new ScanHashesAhead(),
    opened.known,
  );
  await cut.waited;
  await someDurable;
  cut.fail(new Error('the connection was cut'));
  await assert.rejects(scanning, /cut/);
  await opened.partial.close();
  // What a resumed download holds: the log's chunks alone, each the server's bytes; no leaf the thread wrote
  // past the scan, nor one it wrote at the rewritten leaf, counts.
  const resumed = await PartialTransfer.inspect(downloadPartialsFrom(SERVER_KEY), target);
  assert.ok(resumed, 'the partial is kept');
  const held = resumed.held.map((entry) => ({ index: entry.index, hash: Buffer.from(entry.hash) }));
  assert.ok(
    held.every(({ index }) => index !== 3 && index < 200),
    'only leaves the scan took',
  );
  assert.ok(held.length > 0, 'the leaves taken before the cut count');
  assert.equal(await assertHeldBytes(target, held, served), held.length);
  // The thread wrote ahead of the scan: bytes there the log does not vouch for.
  const partial = await readFile(downloadPartialPaths(target).dataPath);
  assert.ok(
    partial
      .subarray(200 * LEAF_BYTES, 201 * LEAF_BYTES)
      .equals(oldBytes.subarray(200 * LEAF_BYTES, 201 * LEAF_BYTES)),
    'written through, unlogged',
  );
});

test('an old file changed during the scan: no leaf held but the served bytes, none from the version written through', async (t) => {
  const oldBytes = randomBytes(LEAVES * LEAF_BYTES);
  const served = Buffer.from(oldBytes);
  randomBytes(100).copy(served, 3 * LEAF_BYTES);
  const { opened, target, path } = await openedAtOffer(t, oldBytes, served);
  const hashing = opened.known as LeafHashesAhead;
  // The thread has hashed and written through the whole file before the scan reaches leaf 100.
  await hashing.writtenThrough(LEAVES);
  const held = heldBack(100, LEAVES);
  const scanning = takeSigned(opened.old, served, opened, held.arrival);
  await held.waited;
  // Leaves 200-209 rewritten in the old file (same size): its ctime moves.
  const file = await open(path, 'r+');
  await file.write(randomBytes(10 * LEAF_BYTES), 0, 10 * LEAF_BYTES, 200 * LEAF_BYTES);
  await file.close();
  held.release();
  const taken = await scanning;
  await opened.partial.close();
  for (let leaf = 200; leaf < 210; leaf++) assert.equal(taken.held.has(leaf), false, `leaf ${leaf} not held`);
  assert.equal(taken.held.has(3), false);
  // The rest is still the served bytes in the old file: held, read again where the change made the thread's
  // hashes untrusted.
  assert.equal(taken.held.knownCount, LEAVES - 11);
  assert.equal(await assertHeldBytes(target, taken.held.entries(), served), LEAVES - 11);
});
