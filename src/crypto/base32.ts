/** RFC 4648 base32 in lower case, without padding: the alphabet of ferry IDs and pairing codes. */
export const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

const VALUE_OF = new Map<string, number>([...BASE32_ALPHABET].map((char, value) => [char, value]));

/** The 5-bit value of a base32 character, or undefined for a character outside the alphabet. */
export function base32Value(char: string): number | undefined {
  return VALUE_OF.get(char);
}

/** Encodes bytes; a final partial group is padded with zero bits (no `=`). */
export function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET.charAt((buffer >> bits) & 31);
    }
  }
  if (bits > 0) out += BASE32_ALPHABET.charAt((buffer << (5 - bits)) & 31);
  return out;
}

/**
 * Decodes `chars` into exactly `length` bytes. Callers check the alphabet and canonical padding first, so
 * the one place that decides what a valid string is stays with its format.
 */
export function decodeBase32(chars: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const char of chars) {
    buffer = ((buffer << 5) | (VALUE_OF.get(char) ?? 0)) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      if (index < out.length) out[index++] = (buffer >> bits) & 0xff;
    }
  }
  return out;
}
