// takeLeaves (PROTOCOL.md §5.17.3) writes the leaves it sees in place (where they lie in the served file) into
// the partial as it scans them (`PlacedLeaves`, issue 16: the old file read once), and counts them only once the
// file is known to differ, only if their write landed, only if nothing wrote over them since, and only while
// the old file is the version scanned (that last rule: delta-download-rescan.test.ts). Real old file on disk,
// real PartialTransfer in the memory store (the port's conformance-tested store), whose bytes are read back:
// every leaf held must hold the bytes of its hash.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { takeLeaves, type OldFile, type TakenLeaves } from '../../src/client/delta-download.js';
import { ChunkHashes, LEAF_BYTES, deltaSignatureOf, leafHash } from '../../src/protocol/index.js';
import { PartialTransfer, SourceFile } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { freshLeafPartial } from '../helpers/fresh-leaf-partial.js';

/** Two scan windows (4 MiB each) and a short last leaf. */
const LEAVES = 100;
const SIZE = LEAVES * LEAF_BYTES + 100;

interface Scanned {
  taken: TakenLeaves;
  /** Bytes of the old file read, all reads together. */
  readBytes: number;
  /** The partial's bytes once it is closed (its held leaves durable). */
  bytes: Buffer;
}

/**
 * Scans `oldBytes` (written to a real file) against the signature of `served` into a fresh partial of the
 * same size; `wrap` may replace the partial's methods takeLeaves uses.
 */
async function scan(
  t: TestContext,
  oldBytes: Buffer,
  served: Buffer,
  wrap: (partial: PartialTransfer<string>) => PartialTransfer<string> = (p) => p,
): Promise<Scanned> {
  const dir = await makeTempDir('ferry-placed-leaves-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'old.bin');
  await writeFile(path, oldBytes);
  const source = await SourceFile.open(path, { noFollow: true });
  t.after(() => source.close());
  let readBytes = 0;
  const old: OldFile = {
    size: source.size,
    assertUnchanged: () => source.assertUnchanged(),
    readExactly: async (buffer, offset, length, position) => {
      readBytes += length;
      await source.readExactly(buffer, offset, length, position);
    },
  };
  const { store, partial } = await freshLeafPartial(served.length);
  const signature = deltaSignatureOf(served, LEAF_BYTES);
  const taken = await takeLeaves(old, { signature, digest: Buffer.alloc(32) }, wrap(partial));
  await partial.close();
  const found = await store.inspect('k');
  assert.ok(found, 'the partial is kept');
  const bytes = Buffer.alloc(served.length);
  await found.reader.read(0, bytes);
  await found.reader.close();
  return { taken, readBytes, bytes };
}

/** Every leaf held holds, in the partial, the bytes its hash is of, and those are the served file's. */
function assertHeldBytes(scanned: Scanned, served: Buffer): void {
  for (const { index, hash } of scanned.taken.held.entries()) {
    const at = index * LEAF_BYTES;
    const leaf = scanned.bytes.subarray(at, Math.min(at + LEAF_BYTES, served.length));
    assert.ok(leafHash(leaf).equals(hash), `leaf ${index}: the partial holds the bytes of its hash`);
    assert.ok(leaf.equals(served.subarray(at, at + leaf.length)), `leaf ${index} is the served leaf`);
  }
}

test('takeLeaves places the leaves seen in place as it scans: the old file is read once', async (t) => {
  const oldBytes = randomBytes(SIZE);
  const served = Buffer.from(oldBytes);
  // The first difference past the first window: 70 leaves seen in place before it.
  randomBytes(100).copy(served, 70 * LEAF_BYTES + 10);
  const scanned = await scan(t, oldBytes, served);
  assert.equal(scanned.taken.identical, false);
  for (let leaf = 0; leaf <= LEAVES; leaf++)
    assert.equal(scanned.taken.held.has(leaf), leaf !== 70, `leaf ${leaf} held`);
  assertHeldBytes(scanned, served);
  // Each window reads a leaf past its end (a match across it); the leaves placed are not read again. Only
  // the short last leaf (never placed: no leaf hint for it) is.
  assert.ok(
    scanned.readBytes <= SIZE + 2 * LEAF_BYTES + 100,
    `read ${scanned.readBytes} bytes of a ${SIZE}-byte old file`,
  );
});

/** Scans with every placing write recorded: its first leaf and how many leaves it wrote. */
async function scanPlacing(
  t: TestContext,
  oldBytes: Buffer,
  served: Buffer,
): Promise<Scanned & { writes: Array<{ first: number; count: number }> }> {
  const writes: Array<{ first: number; count: number }> = [];
  const scanned = await scan(t, oldBytes, served, (partial) => {
    const placeUnverified = partial.placeUnverified.bind(partial);
    partial.placeUnverified = async (offset, pieces, options) => {
      writes.push({ first: offset / LEAF_BYTES, count: pieces.length });
      return placeUnverified(offset, pieces, options);
    };
    return partial;
  });
  return { ...scanned, writes };
}

test('takeLeaves places the leaves seen in place after the first difference too, in runs', async (t) => {
  const oldBytes = randomBytes(SIZE);
  const served = Buffer.from(oldBytes);
  // Differences in both windows, the first at leaf 2: 97 whole leaves in place around them.
  randomBytes(100).copy(served, 2 * LEAF_BYTES + 10);
  randomBytes(100).copy(served, 70 * LEAF_BYTES + 10);
  const scanned = await scanPlacing(t, oldBytes, served);
  assert.equal(scanned.taken.identical, false);
  for (let leaf = 0; leaf <= LEAVES; leaf++)
    assert.equal(scanned.taken.held.has(leaf), leaf !== 2 && leaf !== 70, `leaf ${leaf} held`);
  assertHeldBytes(scanned, served);
  const placed = scanned.writes.reduce((sum, write) => sum + write.count, 0);
  // Every whole leaf in place (not the short last one), each once; a run per stretch between differences
  // and window ends, not a write per leaf.
  assert.equal(placed, LEAVES - 2, `${placed} leaves placed`);
  assert.ok(scanned.writes.length <= 6, `${scanned.writes.length} placing writes`);
  assert.ok(scanned.readBytes <= SIZE + 2 * LEAF_BYTES + 100, `read ${scanned.readBytes} bytes`);
});

test('takeLeaves places the leaves seen in place in a file that grew', async (t) => {
  const oldBytes = randomBytes(SIZE);
  // The served file is the old one with a MiB more at its end: the old file's whole leaves are all in place.
  const served = Buffer.concat([oldBytes, randomBytes(1024 * 1024)]);
  const scanned = await scanPlacing(t, oldBytes, served);
  assert.equal(scanned.taken.identical, false);
  for (let leaf = 0; leaf < LEAVES; leaf++) assert.ok(scanned.taken.held.has(leaf), `leaf ${leaf} held`);
  assertHeldBytes(scanned, served);
  const placed = scanned.writes.reduce((sum, write) => sum + write.count, 0);
  assert.equal(placed, LEAVES, `${placed} leaves placed`);
});

test('takeLeaves places the leaves an insertion shifted, in runs', async (t) => {
  const oldBytes = randomBytes(SIZE);
  // 1 KiB inserted in leaf 2: the served file's leaves from 3 on are found 1 KiB before their place in the
  // old file, off its leaf boundaries.
  const served = Buffer.concat([
    oldBytes.subarray(0, 2 * LEAF_BYTES + 10),
    randomBytes(1024),
    oldBytes.subarray(2 * LEAF_BYTES + 10),
  ]);
  const scanned = await scanPlacing(t, oldBytes, served);
  assert.equal(scanned.taken.identical, false);
  const servedLeaves = Math.ceil(served.length / LEAF_BYTES);
  for (let leaf = 0; leaf < servedLeaves - 1; leaf++)
    assert.equal(scanned.taken.held.has(leaf), leaf !== 2, `leaf ${leaf} held`);
  assertHeldBytes(scanned, served);
  const placed = scanned.writes.reduce((sum, write) => sum + write.count, 0);
  // Leaves 0 and 1 in place, 3.. shifted (the served file's last leaf is short: not placed).
  assert.equal(placed, servedLeaves - 2, `${placed} leaves placed`);
  assert.ok(scanned.writes.length <= 6, `${scanned.writes.length} placing writes`);
});

test(
  'takeLeaves counts the leaves it placed as the scan goes, once the file is known to differ',
  { timeout: 60_000 },
  async (t) => {
    // Four windows, the first difference in the first: leaves placed from the first windows count before the
    // last window is placed, not all at the end. The counting runs behind the scan (each count waits for an
    // fstat of the old file, delta-download-accept-behind.test.ts), so on a loaded machine the scan may reach
    // its last window first: the last window's placing write waits here until 64 leaves are counted. A scan
    // that counts them only at its end waits for that write to land first, never gets there, and times out.
    const leaves = 4 * 64;
    const oldBytes = randomBytes(leaves * LEAF_BYTES);
    const served = Buffer.from(oldBytes);
    randomBytes(100).copy(served, 2 * LEAF_BYTES + 10);
    let counted = 0;
    let countedEnough!: () => void;
    const enoughCounted = new Promise<void>((resolve) => (countedEnough = resolve));
    let lastWindowPlaced = false;
    const scanned = await scan(t, oldBytes, served, (partial) => {
      const placeUnverified = partial.placeUnverified.bind(partial);
      partial.placeUnverified = async (offset, pieces, options) => {
        if (offset >= 3 * 64 * LEAF_BYTES) {
          await enoughCounted;
          lastWindowPlaced = true;
        }
        return placeUnverified(offset, pieces, options);
      };
      const acceptPlacedChunk = partial.acceptPlacedChunk.bind(partial);
      partial.acceptPlacedChunk = (index, leafHashes, hash, stream) => {
        if (++counted >= 64) countedEnough();
        acceptPlacedChunk(index, leafHashes, hash, stream);
      };
      return partial;
    });
    assert.ok(lastWindowPlaced, 'the last window was placed');
    for (let leaf = 0; leaf < leaves; leaf++)
      assert.equal(scanned.taken.held.has(leaf), leaf !== 2, `leaf ${leaf} held`);
    assertHeldBytes(scanned, served);
  },
);

test('takeLeaves: a placed leaf whose write never landed is not counted from the scan, but read again', async (t) => {
  const oldBytes = randomBytes(SIZE);
  const served = Buffer.from(oldBytes);
  randomBytes(100).copy(served, 70 * LEAF_BYTES + 10);
  let failed = 0;
  // The placing write of the run holding leaf 30 fails without writing (a disk error, say).
  const scanned = await scan(t, oldBytes, served, (partial) => {
    const placeUnverified = partial.placeUnverified.bind(partial);
    partial.placeUnverified = async (offset, pieces) => {
      const first = offset / LEAF_BYTES;
      if (first <= 30 && 30 < first + pieces.length) {
        failed++;
        throw new Error('injected: the write did not land');
      }
      return placeUnverified(offset, pieces);
    };
    return partial;
  });
  assert.equal(failed, 1, 'one placing write failed');
  for (let leaf = 0; leaf <= LEAVES; leaf++)
    assert.equal(scanned.taken.held.has(leaf), leaf !== 70, `leaf ${leaf} held`);
  assertHeldBytes(scanned, served);
});

test('takeLeaves: a placed leaf written over by the same leaf found elsewhere is counted once', async (t) => {
  const oldBytes = randomBytes(SIZE);
  // The old file holds its leaf 0 again at leaf 5; the served file does not (its leaf 5 is new), so the
  // scan sees leaf 0 in place (placed), then again at leaf 5's offset, where it is written over leaf 0.
  oldBytes.copy(oldBytes, 5 * LEAF_BYTES, 0, LEAF_BYTES);
  const served = Buffer.from(oldBytes);
  randomBytes(LEAF_BYTES).copy(served, 5 * LEAF_BYTES);
  const scanned = await scan(t, oldBytes, served);
  assert.equal(scanned.taken.identical, false);
  for (let leaf = 0; leaf <= LEAVES; leaf++)
    assert.equal(scanned.taken.held.has(leaf), leaf !== 5, `leaf ${leaf} held`);
  assertHeldBytes(scanned, served);
});

test('takeLeaves: an identical old file counts nothing, places nothing that stays, and reads once', async (t) => {
  const oldBytes = randomBytes(SIZE);
  const served = Buffer.from(oldBytes);
  const dir = await makeTempDir('ferry-placed-identical-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'old.bin');
  await writeFile(path, oldBytes);
  const source = await SourceFile.open(path, { noFollow: true });
  t.after(() => source.close());
  let readBytes = 0;
  const old: OldFile = {
    size: source.size,
    assertUnchanged: () => source.assertUnchanged(),
    readExactly: async (buffer, offset, length, position) => {
      readBytes += length;
      await source.readExactly(buffer, offset, length, position);
    },
  };
  const { partial } = await freshLeafPartial(SIZE);
  t.after(() => partial.discard());
  const signature = deltaSignatureOf(served, LEAF_BYTES);
  const digest = deltaDigest(served);
  const taken = await takeLeaves(old, { signature, digest }, partial);
  assert.equal(taken.identical, true);
  assert.equal(taken.held.knownCount, 0, 'nothing counted');
  assert.equal(partial.verifiedBytes, 0, 'nothing verified in the partial');
  assert.deepEqual(partial.heldRanges(), []);
  assert.ok(readBytes <= SIZE + 2 * LEAF_BYTES, `read ${readBytes} bytes`);
});

/** The file digest (§7.2) of `bytes`: the root over its leaf hashes. */
function deltaDigest(bytes: Buffer): Buffer {
  const hashes = new ChunkHashes(bytes.length, LEAF_BYTES);
  for (let leaf = 0; leaf < hashes.count; leaf++)
    hashes.set(leaf, leafHash(bytes.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES)));
  return hashes.digest();
}
