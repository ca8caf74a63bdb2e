// LeafPlacing: placing a delta's old leaves where they lie while arrived data writes into the same partial
// (issue 16), tested with bytes alone: a model disk, an old file, the new file's arrived data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { LeafPlacing, type LeafRun } from '../../src/machines/index.js';
import { LEAF_BYTES } from '../../src/protocol/index.js';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

test('LeafPlacing places only empty leaves, in runs around the ones that arrived', () => {
  const placing = new LeafPlacing(8 * LEAF_BYTES);
  assert.equal(placing.leafCount, 8);
  // One byte into leaf 2 and the last byte of leaf 4 through the first of leaf 5: all three leaves arrived.
  assert.equal(placing.arrive(2 * LEAF_BYTES + 7, 1), false);
  assert.equal(placing.arrive(5 * LEAF_BYTES - 1, 2), false);
  assert.deepEqual(placing.place(0, 8), [
    { first: 0, count: 2 },
    { first: 3, count: 1 },
    { first: 6, count: 2 },
  ]);
  assert.equal(placing.stateOf(2), 'arrived');
  assert.equal(placing.stateOf(3), 'placing');
  // Already placing: not handed out twice.
  assert.deepEqual(placing.place(0, 8), []);
});

test('LeafPlacing: data arriving over a placing write in flight wins, and says the write must land first', () => {
  const placing = new LeafPlacing(4 * LEAF_BYTES);
  const [run] = placing.place(0, 4);
  assert.ok(run);
  assert.equal(placing.inFlight(1, 1), true);
  assert.equal(placing.arrive(LEAF_BYTES + 10, 100), true, 'the placing write over leaf 1 is in flight');
  // A second arrival there waits too: the old bytes in flight would land over it as well.
  assert.equal(placing.arrive(LEAF_BYTES + 200, 100), true, 'still in flight over the arrived leaf');
  assert.equal(placing.stateOf(1), 'arrived');
  placing.landed(run, true);
  assert.deepEqual(
    [0, 1, 2, 3].map((leaf) => placing.stateOf(leaf)),
    ['placed', 'arrived', 'placed', 'placed'],
  );
  assert.equal(placing.arrive(LEAF_BYTES, 1), false, 'landed: nothing to wait for');
  assert.equal(placing.take(0, 4), 1, 'the arrived leaf ends the run taken');
  assert.equal(placing.take(1, 3), 0, 'an arrived leaf is never taken');
  assert.equal(placing.take(2, 1), 1, 'at most max');
  assert.deepEqual(placing.placedLeaves(), [3]);
});

test('LeafPlacing counts a placed leaf once, and never one whose write failed or is in flight', () => {
  const placing = new LeafPlacing(3 * LEAF_BYTES + 5);
  assert.equal(placing.leafCount, 4);
  const runs = placing.place(0, 4);
  assert.deepEqual(runs, [{ first: 0, count: 4 }]);
  assert.equal(placing.take(0, 4), 0, 'in flight: not landed yet');
  placing.landed({ first: 0, count: 2 }, false);
  placing.landed({ first: 2, count: 2 }, true);
  assert.equal(placing.take(0, 4), 0, 'a failed write leaves its leaves empty');
  assert.equal(placing.stateOf(0), 'empty');
  assert.equal(placing.take(2, 2), 2);
  assert.equal(placing.take(2, 2), 0, 'taken once');
  assert.equal(placing.stateOf(3), 'taken');
  // Data over a taken leaf (a chunk sent again) makes it arrived; it is never placed or taken again.
  assert.equal(placing.arrive(3 * LEAF_BYTES, 5), false);
  assert.deepEqual(placing.place(2, 2), []);
  // A failed leaf may be placed again.
  assert.deepEqual(placing.place(0, 2), [{ first: 0, count: 2 }]);
});

test('LeafPlacing stopped places and takes nothing, and a write landing after the stop counts for nothing', () => {
  const placing = new LeafPlacing(4 * LEAF_BYTES);
  const [run] = placing.place(0, 2);
  placing.landed({ first: 0, count: 1 }, true);
  placing.stop();
  placing.stop();
  assert.equal(placing.stopped, true);
  placing.landed(run!, true);
  assert.equal(placing.stateOf(1), 'empty');
  assert.deepEqual(placing.place(2, 2), []);
  assert.equal(placing.take(0, 4), 0);
});

test('LeafPlacing refuses runs outside the file', () => {
  const placing = new LeafPlacing(2 * LEAF_BYTES);
  assert.throws(() => placing.place(1, 2), RangeError);
  assert.throws(() => placing.place(-1, 1), RangeError);
  assert.throws(() => placing.arrive(2 * LEAF_BYTES, 1), RangeError);
  assert.throws(() => placing.take(3, 1), RangeError);
  assert.equal(placing.take(2, 1), 0, 'from the end: nothing');
});

/** A small deterministic generator (mulberry32), so a failing schedule is found again by its seed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Runs one random schedule of a same-size delta's receiver over bytes: the signing reads the old file in
 * pieces and places them (writes land later, in any order, some fail), while arrived data (literal data and
 * copies from elsewhere) and copies in place come in any order. The glue follows the machine's answers as
 * delta-old-file.ts does: an arrival whose `arrive` says a write is in flight waits for it; a copy in place
 * takes placed leaves (counted with the hash of the bytes placed) or writes the old bytes itself. Returns
 * the model disk, what each taken leaf was counted with, and which leaves got arrived bytes.
 */
function runSchedule(seed: number, naive = false) {
  const next = random(seed);
  const leaves = 12;
  const size = leaves * LEAF_BYTES - 100; // a short last leaf
  const oldFile = randomBytes(size);
  const newFile = Buffer.from(oldFile);
  const disk = Buffer.alloc(size);
  const placing = new LeafPlacing(size);
  const leafOf = (file: Buffer, leaf: number) =>
    file.subarray(leaf * LEAF_BYTES, Math.min(size, (leaf + 1) * LEAF_BYTES));
  // The new file differs from the old in some leaves (rewritten in place).
  const changed = new Set<number>();
  for (let leaf = 0; leaf < leaves; leaf++)
    if (next() < 0.3) {
      changed.add(leaf);
      randomBytes(leafOf(newFile, leaf).length).copy(newFile, leaf * LEAF_BYTES);
    }
  /** Placing writes in flight: the bytes as read (a copy of the signing buffer) and where. */
  const inFlight: { run: LeafRun; bytes: Buffer; fails: boolean }[] = [];
  /** Arrivals waiting for a placing write to land first. */
  const waiting: { offset: number; bytes: Buffer }[] = [];
  const counted = new Map<number, string>();
  const arrivedLeaves = new Set<number>();
  const land = (i: number) => {
    const [write] = inFlight.splice(i, 1);
    if (!write!.fails) write!.bytes.copy(disk, write!.run.first * LEAF_BYTES);
    placing.landed(write!.run, !write!.fails);
  };
  const arriveWrite = (offset: number, bytes: Buffer) => {
    const mustWait = placing.arrive(offset, bytes.length);
    for (let leaf = Math.floor(offset / LEAF_BYTES); leaf * LEAF_BYTES < offset + bytes.length; leaf++)
      arrivedLeaves.add(leaf);
    if (mustWait && !naive) waiting.push({ offset, bytes });
    else bytes.copy(disk, offset);
  };
  const flushWaiting = () => {
    for (let i = 0; i < waiting.length;) {
      const { offset, bytes } = waiting[i]!;
      const first = Math.floor(offset / LEAF_BYTES);
      const end = Math.ceil((offset + bytes.length) / LEAF_BYTES);
      // The glue waits for every placing write in flight; here, for those over these leaves.
      const blocked = inFlight.some((w) => w.run.first < end && w.run.first + w.run.count > first);
      if (blocked) i++;
      else {
        bytes.copy(disk, offset);
        waiting.splice(i, 1);
      }
    }
  };
  // The receiver's work: the signing's pieces in order, and what the sender sends per leaf, shuffled.
  const signing: (() => void)[] = [];
  const sender: (() => void)[] = [];
  for (let piece = 0; piece < leaves; piece += 3)
    signing.push(() => {
      for (const run of placing.place(piece, Math.min(3, leaves - piece))) {
        // Whole leaves only, as the callers place (a short last leaf is copied).
        const whole = run.first + run.count === leaves ? run.count - 1 : run.count;
        if (whole < run.count) placing.landed({ first: leaves - 1, count: 1 }, false);
        if (whole === 0) continue;
        const bytes = Buffer.from(oldFile.subarray(run.first * LEAF_BYTES, (run.first + whole) * LEAF_BYTES));
        inFlight.push({ run: { first: run.first, count: whole }, bytes, fails: next() < 0.1 });
      }
    });
  const copyInPlace = (leaf: number): void => {
    if (placing.take(leaf, 1) === 1) counted.set(leaf, sha(leafOf(oldFile, leaf)));
    // In flight: the glue waits for it to land, then takes; here, the copy is tried again later.
    else if (placing.inFlight(leaf, 1)) sender.push(() => copyInPlace(leaf));
    // Not placed (yet, or failed): the copy reads the old file and writes it as arrived data.
    else arriveWrite(leaf * LEAF_BYTES, Buffer.from(leafOf(oldFile, leaf)));
  };
  for (let leaf = 0; leaf < leaves; leaf++)
    sender.push(() => {
      if (!changed.has(leaf)) return copyInPlace(leaf);
      // Literal data, sometimes in two pieces.
      const bytes = leafOf(newFile, leaf);
      const cut = Math.floor(next() * bytes.length);
      arriveWrite(leaf * LEAF_BYTES, Buffer.from(bytes.subarray(0, cut)));
      arriveWrite(leaf * LEAF_BYTES + cut, Buffer.from(bytes.subarray(cut)));
    });
  // Interleave the signing's pieces (in their order), the sender's messages (shuffled) and the landing of
  // placing writes (in any order).
  for (let i = sender.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [sender[i], sender[j]] = [sender[j]!, sender[i]!];
  }
  while (signing.length + sender.length + inFlight.length + waiting.length > 0) {
    const r = next();
    if (inFlight.length > 0 && r < 0.4) land(Math.floor(next() * inFlight.length));
    else if (signing.length > 0 && r < 0.7) signing.shift()!();
    else if (sender.length > 0) sender.shift()!();
    else if (signing.length > 0) signing.shift()!();
    else if (inFlight.length > 0) land(0);
    flushWaiting();
  }
  placing.stop();
  return { disk, newFile, oldFile, counted, arrivedLeaves, placing, leaves, size };
}

test('LeafPlacing over 300 random schedules: the file built is the new file, every leaf counted once from the bytes there', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const { disk, newFile, counted, arrivedLeaves, leaves, size } = runSchedule(seed);
    assert.ok(disk.equals(newFile), `seed ${seed}: the file built is not the new file`);
    for (const [leaf, hash] of counted) {
      const bytes = disk.subarray(leaf * LEAF_BYTES, Math.min(size, (leaf + 1) * LEAF_BYTES));
      assert.equal(sha(bytes), hash, `seed ${seed}: leaf ${leaf} counted from bytes no longer there`);
      assert.ok(!arrivedLeaves.has(leaf), `seed ${seed}: leaf ${leaf} both counted and written`);
    }
    for (let leaf = 0; leaf < leaves; leaf++)
      assert.ok(counted.has(leaf) || arrivedLeaves.has(leaf), `seed ${seed}: leaf ${leaf} got no bytes`);
  }
});

test('LeafPlacing: without waiting for the placing write in flight, old bytes land over arrived ones (why arrive says so)', () => {
  let lost = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const { disk, newFile } = runSchedule(seed, true);
    if (!disk.equals(newFile)) lost++;
  }
  assert.ok(lost > 0, 'the schedules never race an arrival with a placing write');
});
