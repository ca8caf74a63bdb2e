// The weak rolling checksum's fast loop (src/protocol/rolling-checksum.ts, PROTOCOL.md §5.15) against the
// textbook definition, byte at a time: random data, random windows (every remainder of the 8-byte step), and
// the extremes where the sums wrap (all 0xff over a whole leaf and more). Each of its two paths on its own:
// the JavaScript loops and the WebAssembly SIMD module (src/protocol/simd-weak-checksum.ts), and the
// function that picks between them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEAF_BYTES } from '../../src/protocol/constants.js';
import { rollChecksum, scalarWeakChecksum, weakChecksum } from '../../src/protocol/rolling-checksum.js';
import {
  inWeakChecksumMemory,
  releaseWeakChecksumBuffer,
  simdWeakChecksum,
  simdWeakChecksumAvailable,
  takeWeakChecksumBuffer,
} from '../../src/protocol/simd-weak-checksum.js';
import { SeededRandom } from '../helpers/seeded-random.js';

/** rsync's get_checksum1 as written in Tridgell 1999 §3.2: a = Σ x_i, b = Σ (l − i + 1)·x_i, both mod 2^16. */
function referenceChecksum(bytes: Uint8Array, start: number, end: number): number {
  let a = 0;
  let b = 0;
  for (let i = start; i < end; i++) {
    a = (a + bytes[i]!) % 65536;
    b = (b + (end - i) * bytes[i]!) % 65536;
  }
  return a + b * 65536;
}

/** The checksum's paths, each checked against the reference alone. */
const PATHS: ReadonlyArray<readonly [string, (bytes: Uint8Array, start: number, end: number) => number]> = [
  ['weakChecksum', weakChecksum],
  ['JavaScript', scalarWeakChecksum],
  ['SIMD', (bytes, start, end) => simdWeakChecksum(bytes, start, end) ?? Number.NaN],
];

test('the SIMD checksum runs here (Node 20 has WebAssembly SIMD): its tests below test it', () => {
  assert.ok(simdWeakChecksumAvailable(), 'WebAssembly SIMD is not available in this runtime');
});

/** A seeded source of 32-bit numbers (SeededRandom): every failure reproduces from the seed in its message. */
function prng(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.uint32();
}

test('weakChecksum equals the reference over random data and windows of every length remainder', () => {
  for (const [path, checksum] of PATHS) {
    for (const seed of [1, 7, 0x9e3779b9]) {
      const next = prng(seed);
      const bytes = new Uint8Array(3 * LEAF_BYTES + 13);
      for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
      for (let trial = 0; trial < 200; trial++) {
        const start = next() % bytes.length;
        const end = start + (next() % (bytes.length - start + 1));
        assert.equal(
          checksum(bytes, start, end),
          referenceChecksum(bytes, start, end),
          `${path} seed ${seed} [${start}, ${end})`,
        );
      }
      for (let n = 0; n <= 17; n++)
        assert.equal(
          checksum(bytes, 5, 5 + n),
          referenceChecksum(bytes, 5, 5 + n),
          `${path} seed ${seed} length ${n}`,
        );
      assert.equal(
        checksum(bytes, 0, LEAF_BYTES),
        referenceChecksum(bytes, 0, LEAF_BYTES),
        `${path} seed ${seed} leaf`,
      );
    }
  }
});

test('weakChecksum is the same on and off a 4-byte boundary (the word path and the byte path)', () => {
  for (const [path, checksum] of PATHS) {
    const next = prng(3);
    const memory = new Uint8Array(2 * LEAF_BYTES + 64);
    for (let i = 0; i < memory.length; i++) memory[i] = next() & 0xff;
    for (let shift = 0; shift < 8; shift++) {
      // A view starting `shift` bytes into the memory, as a Buffer from a pool or a subarray would.
      const view = memory.subarray(shift);
      for (const [start, end] of [
        [0, LEAF_BYTES],
        [3, LEAF_BYTES + 3],
        [4, 4 + 88],
        [8, 8 + 87],
        [0, 2 * LEAF_BYTES],
      ] as const)
        assert.equal(
          checksum(view, start, end),
          referenceChecksum(view, start, end),
          `${path} shift ${shift} [${start}, ${end})`,
        );
    }
  }
});

test('weakChecksum wraps right where the sums are largest: all 0xff, a leaf and 4 MiB + 3', () => {
  for (const [path, checksum] of PATHS) {
    const ff = new Uint8Array(4 * 1024 * 1024 + 3).fill(0xff);
    for (const n of [LEAF_BYTES, LEAF_BYTES - 1, ff.length])
      assert.equal(checksum(ff, 0, n), referenceChecksum(ff, 0, n), `${path} length ${n}`);
  }
});

test('the fast checksum rolled a byte on equals the fast checksum recomputed, over random data', () => {
  for (const [path, checksum] of PATHS) {
    const next = prng(42);
    const window = LEAF_BYTES;
    const bytes = new Uint8Array(window + 4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
    let value = checksum(bytes, 0, window);
    for (let at = 1; at + window <= bytes.length; at++) {
      value = rollChecksum(value, window, bytes[at - 1]!, bytes[at + window - 1]!);
      if (at % 97 === 0 || at + window === bytes.length)
        assert.equal(value, referenceChecksum(bytes, at, at + window), `${path} offset ${at}`);
    }
  }
});

test('weakChecksum over shared memory (the signing and scan buffers) equals the reference, windows past one piece included', () => {
  // The SIMD path copies a shared window into its memory with one memcpy (Buffer#fill), not TypedArray#set's
  // element-wise relaxed copy (issue 16): the same bytes must arrive, at any offset and length.
  const next = prng(11);
  const bytes = Buffer.from(new SharedArrayBuffer(2 * LEAF_BYTES + 2 * 65536 + 7)).subarray(3);
  for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
  for (const [path, checksum] of PATHS)
    for (const [start, end] of [
      [0, LEAF_BYTES],
      [1, LEAF_BYTES + 1],
      [5, bytes.length],
      [LEAF_BYTES - 9, LEAF_BYTES + 300],
      [0, 0],
      [17, 17 + 255],
    ] as const)
      assert.equal(
        checksum(bytes, start, end),
        referenceChecksum(bytes, start, end),
        `${path} [${start}, ${end})`,
      );
});

test('windows in the module memory (summed in place) and the same bytes in a plain Buffer (copied) give equal checksums', () => {
  // The signing's read buffers live in the SIMD module's memory and are summed where they are (issue 16);
  // any other bytes are copied in first. Random data at random offsets and lengths, both paths, and the
  // reference now and then.
  const next = prng(29);
  const taken = [4 * LEAF_BYTES + 16, 64 * (LEAF_BYTES + 4)].map((bytes) => takeWeakChecksumBuffer(bytes));
  try {
    for (const inPlace of taken) {
      assert.ok(inWeakChecksumMemory(inPlace), 'a buffer taken is in the module memory');
      for (let i = 0; i < inPlace.length; i++) inPlace[i] = next() & 0xff;
      const plain = Buffer.from(inPlace);
      assert.ok(!inWeakChecksumMemory(plain));
      for (let round = 0; round < 200; round++) {
        const length = round % 4 === 0 ? LEAF_BYTES : next() % (3 * LEAF_BYTES);
        const start = next() % (inPlace.length - length + 1);
        const view = round % 2 === 0 ? inPlace : inPlace.subarray(start & 0xfff);
        const from = round % 2 === 0 ? start : start - (start & 0xfff);
        const other = round % 2 === 0 ? plain : plain.subarray(start & 0xfff);
        const fast = simdWeakChecksum(view, from, from + length);
        assert.equal(fast, simdWeakChecksum(other, from, from + length), `[${start}, +${length})`);
        assert.equal(fast, weakChecksum(view, from, from + length), `[${start}, +${length})`);
        if (round % 25 === 0) assert.equal(fast, referenceChecksum(view, from, from + length));
      }
    }
  } finally {
    taken.forEach(releaseWeakChecksumBuffer);
  }
});

test('the module memory lends at most its slabs, then plain shared buffers, and takes back what it lent', () => {
  const taken: Buffer[] = [];
  try {
    for (let i = 0; i < 8; i++) taken.push(takeWeakChecksumBuffer(LEAF_BYTES));
    const inMemory = taken.filter(inWeakChecksumMemory);
    assert.ok(inMemory.length >= 1 && inMemory.length <= 4, `${inMemory.length} slabs lent`);
    assert.ok(taken.every((buffer) => buffer.buffer instanceof SharedArrayBuffer));
    assert.equal(
      new Set(inMemory.map((buffer) => buffer.byteOffset)).size,
      inMemory.length,
      'no slab lent twice',
    );
    assert.ok(!inWeakChecksumMemory(takeWeakChecksumBuffer(8 * 1024 * 1024)), 'a buffer larger than a slab');
    const given = inMemory[0]!;
    releaseWeakChecksumBuffer(given);
    taken.splice(taken.indexOf(given), 1);
    const again = takeWeakChecksumBuffer(LEAF_BYTES);
    taken.push(again);
    assert.equal(again.byteOffset, given.byteOffset, 'the slab given back is lent again');
  } finally {
    taken.forEach(releaseWeakChecksumBuffer);
  }
});
