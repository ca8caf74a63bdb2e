/**
 * rsync's weak rolling checksum (Tridgell, "Efficient Algorithms for Sorting and Synchronization", 1999,
 * §3.2; rsync's `get_checksum1` with CHAR_OFFSET 0), the candidate filter of a delta upload (PROTOCOL.md
 * §5.15). Over a window x[k..l]: `a = Σ x_i mod 2^16`, `b = Σ (l − i + 1)·x_i mod 2^16`, value `a | b << 16`.
 * Chosen over Adler-32 because the modulus 2^16 makes a roll two additions and a multiply with no division, and
 * the checksum only picks candidates: a strong hash (the block's leaf hash, §7.2) decides every match.
 */
export function weakChecksum(bytes: Uint8Array, start: number, end: number): number {
  let a = 0;
  let b = 0;
  for (let i = start; i < end; i++) {
    a = (a + bytes[i]!) & 0xffff;
    b = (b + a) & 0xffff;
  }
  return (a | (b << 16)) >>> 0;
}

/** The window's checksum moved one byte on: `out` leaves at the front, `in` enters at the back. */
export function rollChecksum(value: number, windowBytes: number, out: number, into: number): number {
  const a = ((value & 0xffff) - out + into) & 0xffff;
  const b = ((value >>> 16) - ((windowBytes * out) & 0xffff) + a) & 0xffff;
  return (a | (b << 16)) >>> 0;
}
