// The weak rolling checksum's fast loop (src/protocol/rolling-checksum.ts, PROTOCOL.md §5.15) against the
// textbook definition, byte at a time: random data, random windows (every remainder of the 8-byte step), and
// the extremes where the sums wrap (all 0xff over a whole leaf and more). Each of its two paths on its own:
// the JavaScript loops and the WebAssembly SIMD module (src/protocol/simd-weak-checksum.ts), and the
// function that picks between them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LEAF_BYTES } from '../../src/protocol/constants.js';
import { rollChecksum, scalarWeakChecksum, weakChecksum } from '../../src/protocol/rolling-checksum.js';
import { simdWeakChecksum, simdWeakChecksumAvailable } from '../../src/protocol/simd-weak-checksum.js';
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
