/**
 * CPace's sizes and length-value encoding (draft-irtf-cfrg-cpace, `prepend_len` and `lv_cat`), apart from
 * cpace.ts: the crypto barrel exports them and pairing-keys.ts uses them, and neither may load the ristretto255
 * group (@noble/curves, ~25 ms of CPU) into every command, while only pairing runs CPace (issue 14).
 * cpace.ts re-exports them.
 */

/** Bytes of an encoded ristretto255 element (Ya, Yb, g). */
export const CPACE_POINT_BYTES = 32;
/** Bytes of a scalar (little-endian). */
export const CPACE_SCALAR_BYTES = 32;
/** Bytes of the intermediate session key (one SHA-512 output). */
export const CPACE_ISK_BYTES = 64;

/** `prepend_len`: the LEB128 encoding of the length, then the data. */
export function cpacePrependLen(data: Uint8Array): Buffer {
  const length: number[] = [];
  let rest = data.length;
  do {
    const low = rest & 0x7f;
    rest = Math.floor(rest / 128);
    length.push(rest > 0 ? low | 0x80 : low);
  } while (rest > 0);
  return Buffer.concat([Buffer.from(length), data]);
}

/** `lv_cat`: each argument length-prefixed with {@link cpacePrependLen}, concatenated (a prefix-free encoding). */
export function cpaceLvCat(...parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts.map((part) => cpacePrependLen(part)));
}
