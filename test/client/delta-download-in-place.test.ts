// A cold delta download in leaves (PROTOCOL.md §5.17.3) hashes its old file's leaves where they lie on the
// leaf hash thread from the offer on, before any signature record (issue 16: the scan, paced window by window
// by its reads and the records, finished 0.3-0.5 s after a 1 GiB signature's end), and the scan takes those
// hashes for the leaves it finds in place instead of hashing them again. An insertion stops the hashing in
// place once the scan follows the shifted leaves. Every leaf held holds the bytes of its hash. Real old
// files, the real partial (in the memory store, or on disk beside the old file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OLD_FILE_SCAN_COUNTERS, takeLeaves } from '../../src/client/delta-download.js';
import { downloadPartialsFrom } from '../../src/client/download-partials.js';
import { closeOpenedForScan, hashInPlace, openForScan } from '../../src/client/old-file-scans.js';
import { ScanHashesAhead } from '../../src/client/scan-hashes-ahead.js';
import { LEAF_BYTES, deltaSignatureOf, leafHash } from '../../src/protocol/index.js';
import { LeafHashesAhead, SourceFile, resolveUnderRoot } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { assertHeldLeaves, freshLeafPartial } from '../helpers/fresh-leaf-partial.js';

const LEAVES = 300; // more than four 4 MiB windows, signed in leaves
const PIECE = 64 * LEAF_BYTES; // what LeafHashesAhead reads at once

/** An old file of `bytes` in a fresh directory, open; removed after the test. */
async function oldFile(t: { after: (fn: () => Promise<void>) => void }, bytes: Buffer) {
  const dir = await makeTempDir('ferry-in-place-');
  const path = join(dir, 'f');
  await writeFile(path, bytes);
  const source = await SourceFile.open(path, { noFollow: true });
  t.after(async () => {
    await source.close();
    await removeTempDir(dir);
  });
  return { dir, source };
}

/** Scans `source` for `served` with `inPlace` as its hashes in place; checks every leaf held, byte-exact. */
async function scan(source: SourceFile, served: Buffer, inPlace: LeafHashesAhead) {
  const { store, partial } = await freshLeafPartial(served.length);
  const before = { ...OLD_FILE_SCAN_COUNTERS };
  const ahead = new ScanHashesAhead();
  const signature = deltaSignatureOf(served, LEAF_BYTES);
  const taken = await takeLeaves(
    source,
    { signature, digest: Buffer.alloc(32) },
    partial,
    undefined,
    ahead,
    inPlace,
  );
  await partial.close();
  await assertHeldLeaves(store, taken.held, served);
  return {
    taken,
    inPlace: OLD_FILE_SCAN_COUNTERS.inPlaceLeaves - before.inPlaceLeaves,
    /** Leaves the scan hashed itself (ahead at another phase, or by the matcher). */
    scanned:
      OLD_FILE_SCAN_COUNTERS.hashedLeaves -
      before.hashedLeaves -
      (OLD_FILE_SCAN_COUNTERS.inPlaceLeaves - before.inPlaceLeaves),
  };
}

test('a delta download in leaves hashes its old file in place from the offer on, before any record', async (t) => {
  const old = randomBytes(40 * LEAF_BYTES + 100);
  const { dir } = await oldFile(t, old);
  const target = await resolveUnderRoot(dir, ['f'], { createDirs: false });
  // The offer alone: no signature record has arrived, none ever will here.
  const opened = openForScan(
    downloadPartialsFrom(Buffer.alloc(32)),
    target,
    { size: old.length },
    LEAF_BYTES,
    {},
  );
  const { known } = await opened;
  assert.ok(known instanceof LeafHashesAhead, 'the old file is being hashed in place');
  await known.hashedThrough(known.hashes.count);
  for (let i = 0; i < known.hashes.count; i++)
    assert.ok(
      known.hashes.get(i)!.equals(leafHash(old.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES))),
      `leaf ${i} hashed where it lies`,
    );
  await closeOpenedForScan(opened);
});

test('takeLeaves with the leaves hashed in place: the leaves in place are matched without the scan hashing them', async (t) => {
  const oldBytes = randomBytes(LEAVES * LEAF_BYTES + 100);
  const served = Buffer.from(oldBytes);
  for (const leaf of [5, 150]) randomBytes(100).copy(served, leaf * LEAF_BYTES + 10); // rewritten in place
  const { source } = await oldFile(t, oldBytes);
  const { taken, inPlace, scanned } = await scan(source, served, LeafHashesAhead.start(source));
  assert.equal(inPlace, LEAVES + 1, 'every leaf hashed in place');
  assert.ok(scanned <= 3, `${scanned} leaves hashed by the scan: the short last one, a stray weak checksum`);
  for (let leaf = 0; leaf <= LEAVES; leaf++)
    assert.equal(taken.held.has(leaf), leaf !== 5 && leaf !== 150, `leaf ${leaf} held`);
});

test(
  'takeLeaves after an insertion stops hashing in place once it follows the shifted leaves',
  { timeout: 30_000 },
  async (t) => {
    const oldBytes = randomBytes(LEAVES * LEAF_BYTES);
    // 1 KiB inserted near the start: no leaf after it lies in place.
    const served = Buffer.concat([
      oldBytes.subarray(0, 10_000),
      randomBytes(1024),
      oldBytes.subarray(10_000),
    ]);
    const { source } = await oldFile(t, oldBytes);
    // The hashing in place reads its first two pieces at once, the rest only once it is stopped (or never):
    // were it not stopped, the scan would wait for it forever.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const inPlace = LeafHashesAhead.start({
      size: source.size,
      readExactly: async (buffer, offset, length, position) => {
        if (position >= 2 * PIECE) await released;
        await source.readExactly(buffer, offset, length, position);
      },
    });
    let stopped = 0;
    const stop = inPlace.stop.bind(inPlace);
    inPlace.stop = () => {
      stopped++;
      release();
      return stop();
    };
    const { taken, inPlace: hashedInPlace } = await scan(source, served, inPlace);
    assert.ok(stopped > 0, 'stopped');
    assert.ok(
      hashedInPlace <= 3 * 64,
      `${hashedInPlace} leaves hashed in place: at most a piece past the gate`,
    );
    // Every leaf after the insertion is found shifted; the first (unchanged, in place) too.
    assert.ok(taken.held.knownCount >= LEAVES - 2, `${taken.held.knownCount} leaves held`);
  },
);

test('at most two old files are hashed in place at once in the process; another starts once one ends', async () => {
  // The reads wait until released: the first two hashings run on meanwhile.
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const gated = {
    size: 4 * LEAF_BYTES,
    readExactly: async (buffer: Buffer, offset: number, length: number) => {
      await released;
      buffer.fill(0, offset, offset + length);
    },
  };
  const first = hashInPlace(gated, gated.size);
  const second = hashInPlace(gated, gated.size);
  assert.ok(first !== undefined && second !== undefined, 'two start');
  assert.equal(
    hashInPlace(gated, gated.size),
    undefined,
    'a third does not: its scan hashes window by window',
  );
  release();
  await first.stop();
  await second.stop();
  const next = hashInPlace(gated, gated.size);
  assert.ok(next !== undefined, 'once they ended, another starts');
  await next.stop();
});

test('an old file hashed in place holds its slot until its scan stops it, not only until its hashing ended: its table waits with its offer', async () => {
  const ready = {
    size: 4 * LEAF_BYTES,
    readExactly: (buffer: Buffer, offset: number, length: number) => {
      buffer.fill(0, offset, offset + length);
      return Promise.resolve();
    },
  };
  const first = hashInPlace(ready, ready.size);
  const second = hashInPlace(ready, ready.size);
  assert.ok(first !== undefined && second !== undefined, 'two start');
  await Promise.all([first.settled(), second.settled()]);
  assert.equal(first.hashes.knownCount, 4, 'the first hashed every leaf');
  assert.equal(
    hashInPlace(ready, ready.size),
    undefined,
    'both done hashing but not stopped (their offers wait for a scan): a third does not start',
  );
  await first.stop();
  await second.stop();
  const next = hashInPlace(ready, ready.size);
  assert.ok(next !== undefined, 'once stopped, another starts');
  await next.stop();
});
