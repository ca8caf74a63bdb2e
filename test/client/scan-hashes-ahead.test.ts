// ScanHashesAhead (src/client/scan-hashes-ahead.ts): the leaf hashes a delta download's scan will check,
// taken on the real leaf hash thread over the very shared buffer scanned, at the phase of the last match
// (leaf boundaries for a file changed in place, shifted by an insertion), none while the scan finds nothing.
// Then takeLeaves over real files: in place and shifted, every leaf the scan checks was hashed ahead, and
// what it holds is the served file's (the matcher took those hashes as its own).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { takeLeaves, type TakenLeaves } from '../../src/client/delta-download.js';
import { ScanHashesAhead } from '../../src/client/scan-hashes-ahead.js';
import { LEAF_BYTES, deltaSignatureOf, leafHash } from '../../src/protocol/index.js';
import { LEAF_HASH_THREAD, LeafHashThread, SourceFile } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { freshLeafPartial } from '../helpers/fresh-leaf-partial.js';

/** A piece of 5 leaves and a half in shared memory, as the scan's read buffers are. */
function sharedPiece(): Buffer {
  const piece = Buffer.from(new SharedArrayBuffer(5 * LEAF_BYTES + LEAF_BYTES / 2));
  randomBytes(piece.length).copy(piece);
  return piece;
}

test('ScanHashesAhead hashes the leaf boundaries first, each hash the leaf hash of the bytes there', async (t) => {
  const thread = new LeafHashThread();
  t.after(() => thread.close());
  thread.warm(); // a thread not started is not started for a piece this small (the next test)
  const ahead = new ScanHashesAhead(thread);
  const piece = sharedPiece();
  const at = 7 * LEAF_BYTES;
  const known = await ahead.start(piece, at, at + 4 * LEAF_BYTES);
  assert.ok(known, 'hashed ahead');
  for (let leaf = 0; leaf < 4; leaf++) {
    const offset = at + leaf * LEAF_BYTES;
    const bytes = piece.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES);
    assert.ok(known(offset)!.equals(leafHash(bytes)), `leaf at ${offset}`);
  }
  assert.equal(known(at + 4 * LEAF_BYTES), undefined, 'a leaf starting at `before` is not hashed');
  assert.equal(known(at + 1), undefined, 'an offset off the phase is not hashed');
  // Each call is a copy of its own: the partial and the chunk hasher keep what they are given.
  assert.notEqual(known(at), known(at));
});

test('ScanHashesAhead follows the phase of the last match, and stops while nothing matches', async (t) => {
  const thread = new LeafHashThread();
  t.after(() => thread.close());
  thread.warm(); // a thread not started is not started for a piece this small (the next test)
  const ahead = new ScanHashesAhead(thread);
  const piece = sharedPiece();
  const at = 3 * LEAF_BYTES;
  // An insertion of 1 KiB before: the server's leaves lie 1 KiB past the old file's leaf boundaries.
  ahead.follow([LEAF_BYTES, 2 * LEAF_BYTES + 1024]);
  const shifted = await ahead.start(piece, at, at + piece.length);
  assert.ok(shifted, 'hashed ahead');
  assert.equal(shifted(at), undefined, 'not at the boundary');
  for (let leaf = 0; leaf < 5; leaf++) {
    const offset = at + 1024 + leaf * LEAF_BYTES;
    const bytes = piece.subarray(offset - at, offset - at + LEAF_BYTES);
    assert.ok(shifted(offset)!.equals(leafHash(bytes)), `leaf at ${offset}`);
  }
  ahead.follow([]);
  assert.equal(await ahead.start(piece, at, at + piece.length), undefined, 'nothing found: nothing hashed');
  ahead.follow([5 * LEAF_BYTES]);
  assert.ok((await ahead.start(piece, at, at + piece.length))?.(at), 'a match again: hashing resumes');
  assert.equal(
    await ahead.start(Buffer.from(piece), at, at + piece.length),
    undefined,
    'memory the thread cannot share is not hashed ahead',
  );
});

test('ScanHashesAhead does not start the thread for a piece too small to pay for it: the matcher hashes', async (t) => {
  const thread = new LeafHashThread();
  t.after(() => thread.close());
  const ahead = new ScanHashesAhead(thread);
  assert.equal(await ahead.start(sharedPiece(), 0, 4 * LEAF_BYTES), undefined);
  assert.equal(ahead.hashedLeaves, 0);
  assert.equal(thread.running, false);
});

test('ScanHashesAhead answers nothing when the thread fails: the matcher hashes for itself', async () => {
  const thread = new LeafHashThread();
  await thread.close();
  const failing = {
    worthFor: () => true,
    hashLeaves: () => Promise.reject(new Error('no thread')),
  } as unknown as LeafHashThread;
  const ahead = new ScanHashesAhead(failing);
  assert.equal(await ahead.start(sharedPiece(), 0, LEAF_BYTES), undefined);
});

/** Leaves of the files below: three scan windows (4 MiB each). */
const LEAVES = 200;

/**
 * takeLeaves of `served`'s leaves from `oldBytes` (a real file), the leaf hash thread's jobs recorded (the
 * real thread still does them): the offsets of the old file hashed ahead.
 */
async function takeRecording(
  t: TestContext,
  oldBytes: Buffer,
  served: Buffer,
  answer: 'hashes' | 'zeros' = 'hashes',
): Promise<{ taken: TakenLeaves; hashedAhead: number; usefulAhead: number; bytes: Buffer }> {
  const dir = await makeTempDir('ferry-scan-ahead-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'old.bin');
  await writeFile(path, oldBytes);
  const source = await SourceFile.open(path, { noFollow: true });
  t.after(() => source.close());
  const { store, partial } = await freshLeafPartial(served.length, 64 * LEAF_BYTES);
  let hashedAhead = 0;
  // Leaves hashed ahead that are leaves of the served file: the scan checks those (hashed at the right phase).
  let usefulAhead = 0;
  const servedLeaves = new Set<string>();
  for (let at = 0; at + LEAF_BYTES <= served.length; at += LEAF_BYTES)
    servedLeaves.add(leafHash(served.subarray(at, at + LEAF_BYTES)).toString('hex'));
  const hashLeaves = LEAF_HASH_THREAD.hashLeaves.bind(LEAF_HASH_THREAD);
  LEAF_HASH_THREAD.hashLeaves = (shared, starts, length) => {
    hashedAhead += starts.length;
    const memory = Buffer.from(shared);
    usefulAhead += starts.filter((start) =>
      servedLeaves.has(leafHash(memory.subarray(start, start + length)).toString('hex')),
    ).length;
    const hashed = hashLeaves(shared, starts, length);
    return answer === 'hashes' ? hashed : hashed.then((hashes) => Buffer.alloc(hashes.length));
  };
  let taken: TakenLeaves;
  try {
    taken = await takeLeaves(
      source,
      { signature: deltaSignatureOf(served, LEAF_BYTES), digest: Buffer.alloc(32) },
      partial,
    );
  } finally {
    LEAF_HASH_THREAD.hashLeaves = hashLeaves;
  }
  await partial.close();
  const found = await store.inspect('k');
  assert.ok(found, 'the partial is kept');
  const bytes = Buffer.alloc(served.length);
  await found.reader.read(0, bytes);
  await found.reader.close();
  return { taken, hashedAhead, usefulAhead, bytes };
}

/** Every leaf held is the served file's leaf, in the partial, with its hash. */
function assertHeld(result: { taken: TakenLeaves; bytes: Buffer }, served: Buffer, leaves: number): void {
  const missing = [...Array(leaves + 5).keys()].filter(
    (i) => i * LEAF_BYTES < served.length && !result.taken.held.has(i),
  );
  assert.equal(result.taken.held.knownCount, leaves, `leaves held; missing ${missing.join(',')}`);
  for (const { index, hash } of result.taken.held.entries()) {
    const leaf = served.subarray(index * LEAF_BYTES, (index + 1) * LEAF_BYTES);
    assert.ok(leafHash(leaf).equals(hash), `leaf ${index}: its hash`);
    assert.ok(
      result.bytes.subarray(index * LEAF_BYTES, (index + 1) * LEAF_BYTES).equals(leaf),
      `leaf ${index}`,
    );
  }
}

test('takeLeaves hashes ahead the leaves of an old file changed in place, and of one shifted', async (t) => {
  const oldBytes = randomBytes(LEAVES * LEAF_BYTES);
  // In place: 3 leaves changed; every other leaf is checked where it lies.
  const inPlace = Buffer.from(oldBytes);
  for (const leaf of [20, 90, 150]) randomBytes(100).copy(inPlace, leaf * LEAF_BYTES + 10);
  const placed = await takeRecording(t, oldBytes, inPlace);
  assertHeld(placed, inPlace, LEAVES - 3);
  // Three 4 MiB pieces hashed ahead, one leaf more at each window's end at most.
  assert.ok(placed.usefulAhead >= LEAVES - 3, `${placed.usefulAhead} served leaves hashed ahead`);
  assert.ok(placed.hashedAhead <= LEAVES + 4, `${placed.hashedAhead} leaves hashed ahead`);
  // Shifted: 1 KiB inserted into leaf 2 of the served file; its leaves from 3 on lie 1 KiB further on than
  // in the old file, so the old file's leaves are checked 1 KiB before each boundary.
  const shifted = Buffer.concat([
    oldBytes.subarray(0, 2 * LEAF_BYTES + 10),
    randomBytes(1024),
    oldBytes.subarray(2 * LEAF_BYTES + 10, (LEAVES - 1) * LEAF_BYTES),
  ]);
  const moved = await takeRecording(t, oldBytes, shifted);
  // Leaves 0 and 1 in place, 2 changed, 3 on moved but the short last one (not at the old file’s end).
  const servedLeaves = Math.ceil(shifted.length / LEAF_BYTES);
  assertHeld(moved, shifted, servedLeaves - 2);
  // The first window's pieces are hashed on the leaf boundaries (wasted for the moved leaves), the rest
  // at the shifted phase.
  assert.ok(moved.usefulAhead >= LEAVES - 4 - 64, `${moved.usefulAhead} served leaves hashed ahead`);
  assert.ok(moved.hashedAhead <= moved.usefulAhead + 2 * 64 + 4, `${moved.hashedAhead} leaves hashed ahead`);
});

test('takeLeaves checks leaves with the hashes taken ahead: wrong ones find nothing, then it hashes itself', async (t) => {
  // Not a case that happens (the thread hashes the very bytes scanned): it shows the scan takes the thread's
  // hashes as the hashes of the bytes it checks, that a wrong one never makes a leaf count, and that a scan
  // finding nothing stops hashing ahead (the matcher then hashes what it checks, and finds the rest).
  const oldBytes = randomBytes(LEAVES * LEAF_BYTES);
  const served = Buffer.from(oldBytes);
  randomBytes(100).copy(served, 150 * LEAF_BYTES + 10);
  const result = await takeRecording(t, oldBytes, served, 'zeros');
  assert.ok(result.hashedAhead >= 64, `${result.hashedAhead} leaves hashed ahead`);
  assert.equal(result.taken.held.has(0), false, 'leaf 0, checked with a wrong hash, is not held');
  const held = result.taken.held.knownCount;
  assert.ok(held >= LEAVES - 3 * 64 && held < LEAVES - 64, `${held} leaves held`);
  assertHeld(result, served, held);
});
