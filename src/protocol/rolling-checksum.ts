/**
 * rsync's weak rolling checksum (Tridgell, "Efficient Algorithms for Sorting and Synchronization", 1999,
 * §3.2; rsync's `get_checksum1` with CHAR_OFFSET 0), the candidate filter of a delta upload (PROTOCOL.md
 * §5.15). Over a window x[k..l]: `a = Σ x_i mod 2^16`, `b = Σ (l − i + 1)·x_i mod 2^16`, value `a | b << 16`.
 * Chosen over Adler-32 because the modulus 2^16 makes a roll two additions and a multiply with no division, and
 * the checksum only picks candidates: a strong hash (the block's leaf hash, §7.2) decides every match.
 */
export function weakChecksum(bytes: Uint8Array, start: number, end: number): number {
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
