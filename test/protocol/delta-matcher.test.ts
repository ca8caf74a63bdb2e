// The delta upload's pure parts (PROTOCOL.md §5.15): rsync's rolling checksum, the block signature and the
// matcher, property-tested: a random old file, random edits, rebuilt exactly from old + ops + literals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { LEAF_BYTES } from '../../src/protocol/constants.js';
import { rollChecksum, weakChecksum } from '../../src/protocol/rolling-checksum.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import {
  DELTA_STRONG_BYTES,
  DeltaSignatureBuilder,
  MAX_DELTA_BLOCKS,
  deltaBlockBytesFor,
  deltaSignatureOf,
} from '../../src/protocol/delta-signature.js';
import {
  DeltaMatcher,
  applyDeltaOps,
  deltaOpsWithin,
  type DeltaOp,
} from '../../src/protocol/delta-matcher.js';
import { leafHash } from '../../src/protocol/merkle-tree-hash.js';

/** A seeded source of 32-bit numbers (SeededRandom): every failure reproduces from the seed in its message. */
function prng(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.uint32();
}

function randomBytes(next: () => number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = next() & 0xff;
  return out;
}

test('weakChecksum is rsync get_checksum1: known value, and rolling equals recomputing', () => {
  // a = 1+2+3 = 6, b = 1 + 3 + 6 = 10 (each prefix sum of a), value a | b << 16.
  assert.equal(weakChecksum(Uint8Array.from([1, 2, 3]), 0, 3), 6 | (10 << 16));
  const next = prng(7);
  const bytes = randomBytes(next, 4096);
  const window = 257;
  let value = weakChecksum(bytes, 0, window);
  for (let at = 1; at + window <= bytes.length; at++) {
    value = rollChecksum(value, window, bytes[at - 1]!, bytes[at + window - 1]!);
    assert.equal(value, weakChecksum(bytes, at, at + window), `offset ${at}`);
  }
  // Large bytes wrap both sums mod 2^16 (a 64 KiB window of 0xff).
  const ff = Buffer.alloc(LEAF_BYTES + 1, 0xff);
  ff[0] = 3;
  const rolled = rollChecksum(weakChecksum(ff, 0, LEAF_BYTES), LEAF_BYTES, 3, 0xff);
  assert.equal(rolled, weakChecksum(ff, 1, LEAF_BYTES + 1));
});

test('a signature is each leaf: weak checksum and the leaf hash cut to 16 bytes, the short last leaf too', () => {
  const old = randomBytes(prng(3), 2 * LEAF_BYTES + 100);
  const signature = deltaSignatureOf(old);
  assert.equal(signature.weak.length, 3);
  assert.equal(signature.strong.length, 3 * DELTA_STRONG_BYTES);
  const tail = old.subarray(2 * LEAF_BYTES);
  assert.equal(signature.weak[2], weakChecksum(tail, 0, tail.length));
  assert.deepEqual(signature.strong.subarray(32, 48), leafHash(tail).subarray(0, 16));
  const block1 = old.subarray(LEAF_BYTES, 2 * LEAF_BYTES);
  assert.equal(signature.weak[1], weakChecksum(block1, 0, LEAF_BYTES));
  assert.deepEqual(signature.strong.subarray(16, 32), leafHash(block1).subarray(0, 16));
  assert.throws(() => new DeltaSignatureBuilder((MAX_DELTA_BLOCKS + 1) * LEAF_BYTES), RangeError);
  assert.throws(() => new DeltaSignatureBuilder(LEAF_BYTES).add(Buffer.alloc(10)), RangeError);
  assert.throws(() => new DeltaSignatureBuilder(LEAF_BYTES + 10).add(Buffer.alloc(10)), RangeError);
});

type Edit = (file: Buffer, next: () => number) => Buffer;
const at = (file: Buffer, next: () => number) => next() % (file.length + 1);
const edits: Record<string, Edit> = {
  overwrite: (file, next) => {
    const copy = Buffer.from(file);
    const start = at(file, next);
    randomBytes(next, 1 + (next() % 3000)).copy(copy, start);
    return copy;
  },
  insert: (file, next) => {
    const start = at(file, next);
    return Buffer.concat([
      file.subarray(0, start),
      randomBytes(next, 1 + (next() % 3000)),
      file.subarray(start),
    ]);
  },
  remove: (file, next) => {
    const start = at(file, next);
    return Buffer.concat([file.subarray(0, start), file.subarray(start + 1 + (next() % 5000))]);
  },
  truncate: (file, next) => file.subarray(0, at(file, next)),
  grow: (file, next) => Buffer.concat([file, randomBytes(next, next() % 100_000)]),
  move: (file, next) => {
    const start = at(file, next);
    return Buffer.concat([file.subarray(start), file.subarray(0, start)]);
  },
};

/** Scans `file` window by window, as a sender streaming chunks does, and returns the ops. */
function scanInWindows(matcher: DeltaMatcher, file: Buffer, window: number): DeltaOp[] {
  const ops: DeltaOp[] = [];
  let from = 0;
  while (from < file.length) {
    const to = Math.min(file.length, from + window);
    const base = from;
    const bytes = file.subarray(base, Math.min(file.length, to - 1 + matcher.blockBytes));
    const scan = matcher.scan(bytes, base, from, to, base + bytes.length === file.length);
    ops.push(...scan.ops);
    from = scan.next;
  }
  return ops;
}

test('property: random edits rebuild byte-exact from old + ops + literals, and unchanged blocks are copied', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const next = prng(seed * 7919);
    const old = randomBytes(next, LEAF_BYTES * (1 + (next() % 12)) + (next() % LEAF_BYTES));
    let file = old;
    const names = Object.keys(edits);
    const applied: string[] = [];
    for (let n = 1 + (next() % 3); n > 0; n--) {
      const name = names[next() % names.length]!;
      applied.push(name);
      file = edits[name]!(file, next);
    }
    const window = [LEAF_BYTES, 3 * LEAF_BYTES + 17, 1 << 22][seed % 3]!;
    const ops = scanInWindows(new DeltaMatcher(deltaSignatureOf(old)), file, window);
    const label = `seed ${seed} (${applied.join(', ')}), window ${window}`;
    // The ops tile the new file exactly, in order.
    let covered = 0;
    for (const op of ops) {
      assert.equal(op.newOffset, covered, label);
      assert.ok(op.length > 0, label);
      covered += op.length;
    }
    assert.equal(covered, file.length, label);
    const rebuilt = applyDeltaOps(old, ops, (op) => file.subarray(op.newOffset, op.newOffset + op.length));
    assert.ok(Buffer.from(rebuilt).equals(file), label);
    // Every copy is really the old file's bytes (no false match through a strong-hash collision).
    for (const op of ops.filter((o) => o.oldOffset >= 0)) {
      assert.ok(
        old
          .subarray(op.oldOffset, op.oldOffset + op.length)
          .equals(file.subarray(op.newOffset, op.newOffset + op.length)),
        label,
      );
    }
    // Chunking the ops at any chunk size also rebuilds each chunk.
    const chunk = LEAF_BYTES * 2;
    for (let start = 0; start < file.length; start += chunk) {
      const end = Math.min(file.length, start + chunk);
      const piece = applyDeltaOps(old, deltaOpsWithin(ops, start, end), (op) =>
        file.subarray(op.newOffset, op.newOffset + op.length),
      );
      assert.ok(Buffer.from(piece).equals(file.subarray(start, end)), `${label} chunk at ${start}`);
    }
  }
});

test('literal bytes stay near the edit: insertion, deletion, 3 overwrites, identical', () => {
  const next = prng(99);
  const old = randomBytes(next, 40 * LEAF_BYTES + 1234);
  const literal = (file: Buffer) =>
    scanInWindows(new DeltaMatcher(deltaSignatureOf(old)), file, 4 * LEAF_BYTES)
      .filter((op) => op.oldOffset < 0)
      .reduce((sum, op) => sum + op.length, 0);
  // Identical: nothing travels, the short last block matches at the end.
  assert.equal(literal(old), 0);
  const inserted = Buffer.concat([old.subarray(0, 5000), randomBytes(next, 1024), old.subarray(5000)]);
  assert.ok(literal(inserted) <= LEAF_BYTES + 1024 + 1234, `insertion ${literal(inserted)}`);
  const deleted = Buffer.concat([old.subarray(0, 300_000), old.subarray(310_000)]);
  assert.ok(literal(deleted) <= 2 * LEAF_BYTES + 1234, `deletion ${literal(deleted)}`);
  const overwritten = Buffer.from(old);
  for (const start of [10, 900_000, 2_000_000]) randomBytes(next, 100).copy(overwritten, start);
  assert.ok(literal(overwritten) <= 3 * LEAF_BYTES + 1234, `overwrite ${literal(overwritten)}`);
});

test('block size by rsync’s rule below 16 MiB: about sqrt(size) in steps of 64, at least 1 KiB; one leaf from 16 MiB', () => {
  assert.equal(deltaBlockBytesFor(0), 1024);
  assert.equal(deltaBlockBytesFor(20 * 1024), 1024);
  assert.equal(deltaBlockBytesFor(1024 * 1024 + 1), 1088); // sqrt just above 1024: the next step of 64
  assert.equal(deltaBlockBytesFor(16 * 1024 * 1024 - 1), 4096); // the largest sqrt-rule block
  assert.equal(deltaBlockBytesFor(16 * 1024 * 1024), 65536); // whole leaves from 16 MiB on
  assert.equal(deltaBlockBytesFor(64 * 1024 * 1024), 65536);
  assert.equal(deltaBlockBytesFor(2 ** 30), LEAF_BYTES);
  assert.equal(deltaBlockBytesFor(2 ** 32), LEAF_BYTES);
  assert.equal(deltaBlockBytesFor(2 ** 40), LEAF_BYTES);
});

test('property, small blocks: random edits of 4-64 KiB files rebuild byte-exact, literals near the edits', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const next = prng(seed * 104_729);
    const old = randomBytes(next, 4096 + (next() % (60 * 1024)));
    const blockBytes = [1024, 1088, 4096, 20 * 1024 + 64][seed % 4]!;
    const name = Object.keys(edits)[seed % Object.keys(edits).length]!;
    const file = edits[name]!(old, next);
    const label = `seed ${seed} (${name}), blocks of ${blockBytes}`;
    const ops = scanInWindows(new DeltaMatcher(deltaSignatureOf(old, blockBytes)), file, 3 * blockBytes + 5);
    let covered = 0;
    for (const op of ops) {
      assert.equal(op.newOffset, covered, label);
      covered += op.length;
      if (op.oldOffset >= 0)
        assert.ok(
          old
            .subarray(op.oldOffset, op.oldOffset + op.length)
            .equals(file.subarray(op.newOffset, op.newOffset + op.length)),
          label,
        );
    }
    assert.equal(covered, file.length, label);
    const rebuilt = applyDeltaOps(old, ops, (op) => file.subarray(op.newOffset, op.newOffset + op.length));
    assert.ok(Buffer.from(rebuilt).equals(file), label);
  }
});

test('small blocks: 100 bytes rewritten or 10 inserted in 20 KiB send about a block or two, not the file', () => {
  const next = prng(4242);
  const old = randomBytes(next, 20 * 1024);
  const blockBytes = deltaBlockBytesFor(old.length);
  const literal = (file: Buffer): number =>
    scanInWindows(new DeltaMatcher(deltaSignatureOf(old, blockBytes)), file, 64 * 1024)
      .filter((op) => op.oldOffset < 0)
      .reduce((sum, op) => sum + op.length, 0);
  assert.equal(literal(old), 0);
  const rewritten = Buffer.from(old);
  randomBytes(next, 100).copy(rewritten, 7000);
  assert.ok(literal(rewritten) <= 2 * blockBytes, `rewritten: ${literal(rewritten)}`);
  const inserted = Buffer.concat([old.subarray(0, 9000), randomBytes(next, 10), old.subarray(9000)]);
  assert.ok(literal(inserted) <= blockBytes + 10, `inserted: ${literal(inserted)}`);
});

test('a block found by rolling at the last offset a window reaches: the very end of the bytes, or the scan range', () => {
  const blockBytes = 1024;
  const old = randomBytes(prng(11), 4 * blockBytes);
  const signature = deltaSignatureOf(old, blockBytes);
  const block2 = old.subarray(2 * blockBytes, 3 * blockBytes);
  // Literal bytes, then block 2 ending exactly where the bytes end: found only at the last offset rolled to.
  for (const lead of [1, 100, blockBytes - 1, blockBytes + 7]) {
    const bytes = Buffer.concat([randomBytes(prng(lead), lead), block2]);
    const matcher = new DeltaMatcher(signature);
    const scan = matcher.scan(bytes, 0, 0, bytes.length, true);
    assert.deepEqual(
      scan.ops,
      [
        { newOffset: 0, length: lead, oldOffset: -1 },
        { newOffset: lead, length: blockBytes, oldOffset: 2 * blockBytes },
      ],
      `lead ${lead}`,
    );
    assert.equal(scan.next, bytes.length);
    // A scan of offsets up to `lead` (the window's last start) finds it too, the bytes reaching a block past it.
    const upTo = new DeltaMatcher(signature).scan(bytes, 0, 0, lead + 1);
    assert.deepEqual(upTo.ops[upTo.ops.length - 1], {
      newOffset: lead,
      length: blockBytes,
      oldOffset: 2 * blockBytes,
    });
    // One offset short of it, it is not found, and the next scan starts there.
    const short = new DeltaMatcher(signature).scan(bytes, 0, 0, lead);
    assert.deepEqual(short.ops, [{ newOffset: 0, length: lead, oldOffset: -1 }]);
    assert.equal(short.next, lead);
  }
});

test('a scan starting where the last match ended follows its run by the strong hash alone, no weak checksum taken afresh', () => {
  const blockBytes = 1024;
  const old = randomBytes(prng(12), 16 * blockBytes);
  // 100 bytes inserted in block 1: blocks 2.. run on shifted by 100.
  const next = Buffer.concat([old.subarray(0, 1500), randomBytes(prng(13), 100), old.subarray(1500)]);
  const matcher = new DeltaMatcher(deltaSignatureOf(old, blockBytes));
  // The first window's scan: its last match runs past `to`, where the next window's scan starts.
  const first = matcher.scan(next.subarray(0, 9 * blockBytes), 0, 0, 8 * blockBytes);
  assert.equal(first.next, 8 * blockBytes + 100);
  const summed = matcher.summedBlocks;
  const rolled = matcher.rolledOffsets;
  const second = matcher.scan(next.subarray(first.next), first.next, first.next, next.length, true);
  assert.deepEqual(second.ops, [
    { newOffset: first.next, length: next.length - first.next, oldOffset: 8 * blockBytes },
  ]);
  assert.equal(matcher.summedBlocks - summed, 0, 'the run followed, not looked for again');
  assert.equal(matcher.rolledOffsets - rolled, 0);
});
