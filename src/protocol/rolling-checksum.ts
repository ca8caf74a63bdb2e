import { simdWeakChecksum } from './simd-weak-checksum.js';

/**
 * rsync's weak rolling checksum (Tridgell, "Efficient Algorithms for Sorting and Synchronization", 1999,
 * §3.2; rsync's `get_checksum1` with CHAR_OFFSET 0), the candidate filter of a delta upload (PROTOCOL.md
 * §5.15). Over a window x[k..l]: `a = Σ x_i mod 2^16`, `b = Σ (l − i + 1)·x_i mod 2^16`, value `a | b << 16`.
 * Chosen over Adler-32 because the modulus 2^16 makes a roll two additions and a multiply with no division, and
 * the checksum only picks candidates: a strong hash (the block's leaf hash, §7.2) decides every match.
 */
export function weakChecksum(bytes: Uint8Array, start: number, end: number): number {
  if (end - start >= SIMD_MIN_BYTES) {
    const fast = simdWeakChecksum(bytes, start, end);
    if (fast !== undefined) return fast;
  }
  return scalarWeakChecksum(bytes, start, end);
}

/** The weak checksum in JavaScript alone: short windows, and runtimes without WebAssembly's SIMD. */
export function scalarWeakChecksum(bytes: Uint8Array, start: number, end: number): number {
  const at = bytes.byteOffset + start;
  if (!LITTLE_ENDIAN || (at & 3) !== 0 || end - start < 4 * SEGMENT_WORDS)
    return bytesChecksum(bytes, start, end);
  return wordsChecksum(bytes, start, end);
}

/**
 * Windows from this long on go to the SIMD module (a leaf or a block of a delta's signing or scan); shorter
 * ones stay in JavaScript, where the copy into the module's memory and the call would cost more than they save.
 */
const SIMD_MIN_BYTES = 256;

/** Words summed as two 16-bit lanes before the lanes are moved to their own sums (see `wordsChecksum`). */
const SEGMENT_WORDS = 22;
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * The checksum four bytes a word, two bytes a lane (SWAR): byte j of word k is x_{4k+j}. Per lane j, S_j sums
 * its bytes and T_j sums the running S_j after each word; over n = 4K bytes, a = Σ S_j and
 * b = Σ (n − i)·x_i = 4·Σ T_j − Σ j·S_j. Within a segment of 22 words the lanes cannot carry into each other
 * (a lane's T is at most 255·22·23/2 = 64515); each segment's lanes then join the per-lane sums, which wrap at
 * 2^32 and so stay right mod 2^16. Measured 1.5-3x the eight-byte loop on this machine's (noisy) cores.
 */
function wordsChecksum(bytes: Uint8Array, start: number, end: number): number {
  const words = (end - start) >>> 2;
  const w = new Int32Array(bytes.buffer, bytes.byteOffset + start, words);
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  let k = 0;
  for (const stop = words - SEGMENT_WORDS; k <= stop; k += SEGMENT_WORDS) {
    // Lanes of bytes 0 and 2 (`even`) and of bytes 1 and 3 (`odd`); below 2^32, so exact in 32 bits. Every
    // step wraps as an int32 (`| 0`, `Math.imul`): the bits are the same, and V8 keeps the loop in 32-bit
    // integers instead of deoptimizing when a sum passes 2^31 (it did, at every call, issue 16's profile).
    let even = 0;
    let odd = 0;
    let evenT = 0;
    let oddT = 0;
    for (let m = k; m < k + SEGMENT_WORDS; m++) {
      const v = w[m]!;
      even = (even + (v & 0x00ff00ff)) | 0;
      odd = (odd + ((v >>> 8) & 0x00ff00ff)) | 0;
      evenT = (evenT + even) | 0;
      oddT = (oddT + odd) | 0;
    }
    t0 = (((t0 + Math.imul(SEGMENT_WORDS, s0)) | 0) + (evenT & 0xffff)) | 0;
    t2 = (((t2 + Math.imul(SEGMENT_WORDS, s2)) | 0) + (evenT >>> 16)) | 0;
    t1 = (((t1 + Math.imul(SEGMENT_WORDS, s1)) | 0) + (oddT & 0xffff)) | 0;
    t3 = (((t3 + Math.imul(SEGMENT_WORDS, s3)) | 0) + (oddT >>> 16)) | 0;
    s0 = (s0 + (even & 0xffff)) | 0;
    s2 = (s2 + (even >>> 16)) | 0;
    s1 = (s1 + (odd & 0xffff)) | 0;
    s3 = (s3 + (odd >>> 16)) | 0;
  }
  for (; k < words; k++) {
    const v = w[k]!;
    s0 = (s0 + (v & 0xff)) | 0;
    s1 = (s1 + ((v >>> 8) & 0xff)) | 0;
    s2 = (s2 + ((v >>> 16) & 0xff)) | 0;
    s3 = (s3 + (v >>> 24)) | 0;
    t0 = (t0 + s0) | 0;
    t1 = (t1 + s1) | 0;
    t2 = (t2 + s2) | 0;
    t3 = (t3 + s3) | 0;
  }
  let a = (((s0 + s1) | 0) + ((s2 + s3) | 0)) | 0;
  const t = (((t0 + t1) | 0) + ((t2 + t3) | 0)) | 0;
  const weighted = (((s1 + Math.imul(2, s2)) | 0) + Math.imul(3, s3)) | 0;
  let b = (Math.imul(4, t) - weighted) | 0;
  // The last 0-3 bytes, byte at a time: b gains the new a at each.
  for (let i = start + 4 * words; i < end; i++) {
    a = (a + bytes[i]!) | 0;
    b = (b + a) | 0;
  }
  return ((a & 0xffff) | (b << 16)) >>> 0;
}

/** The checksum eight bytes a step, for windows not on a 4-byte boundary (the matcher's rolling misses). */
function bytesChecksum(bytes: Uint8Array, start: number, end: number): number {
  // Eight bytes a step: over x0..x7 after `a`, b gains 8a + 8x0 + 7x1 + … + x7 and a gains their sum, so the
  // step's products do not wait on each other (measured about twice the byte-at-a-time loop's speed). Both
  // sums wrap at 2^32 (`| 0`, exact in a double before the wrap), which keeps them right mod 2^16.
  let a = 0;
  let b = 0;
  let i = start;
  for (const stop = end - 7; i < stop; i += 8) {
    const x0 = bytes[i]!;
    const x1 = bytes[i + 1]!;
    const x2 = bytes[i + 2]!;
    const x3 = bytes[i + 3]!;
    const x4 = bytes[i + 4]!;
    const x5 = bytes[i + 5]!;
    const x6 = bytes[i + 6]!;
    const x7 = bytes[i + 7]!;
    b = (b + 8 * a + 8 * x0 + 7 * x1 + 6 * x2 + 5 * x3 + 4 * x4 + 3 * x5 + 2 * x6 + x7) | 0;
    a = (a + x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7) | 0;
  }
  for (; i < end; i++) {
    a = (a + bytes[i]!) | 0;
    b = (b + a) | 0;
  }
  return ((a & 0xffff) | (b << 16)) >>> 0;
}

/** The window's checksum moved one byte on: `out` leaves at the front, `in` enters at the back. */
export function rollChecksum(value: number, windowBytes: number, out: number, into: number): number {
  const a = ((value & 0xffff) - out + into) & 0xffff;
  const b = ((value >>> 16) - ((windowBytes * out) & 0xffff) + a) & 0xffff;
  return (a | (b << 16)) >>> 0;
}
