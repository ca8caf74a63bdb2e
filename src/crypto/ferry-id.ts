import { createHash } from 'node:crypto';
import { BASE32_ALPHABET, base32Value, decodeBase32, encodeBase32 } from './base32.js';
import { FerryError } from '../errors/index.js';

/**
 * Ferry IDs: the human-checkable text form of a 32-byte X25519 public key.
 *
 *   id    = base32(publicKey) || base32(first 10 bits of SHA-256("ferry-id-v1" || publicKey))
 *   shown = id cut into 6 groups of 9 characters joined by '-'
 *
 * base32 is RFC 4648 with the lower-case alphabet and no padding: 256 key bits give 52 characters (the last
 * one carries 1 key bit and 4 zero bits), the 10 check bits give exactly 2 more.
 */

const ALPHABET = BASE32_ALPHABET;
const DOMAIN = Buffer.from('ferry-id-v1', 'ascii');
const PUBLIC_KEY_BYTES = 32;
const KEY_CHARS = 52;
const CHECK_CHARS = 2;
/** Characters in a ferry ID without its dashes. */
export const FERRY_ID_CHARS = KEY_CHARS + CHECK_CHARS;
const GROUP_CHARS = 9;

/** The ferry ID of a 32-byte X25519 public key, e.g. `abcdefghi-jklmnopqr-…` (6 groups of 9). */
export function formatFerryId(publicKey: Uint8Array): string {
  checkKeyLength(publicKey);
  const chars = encodeBase32(publicKey) + checkChars(publicKey);
  const groups: string[] = [];
  for (let i = 0; i < chars.length; i += GROUP_CHARS) groups.push(chars.slice(i, i + GROUP_CHARS));
  return groups.join('-');
}

/**
 * The first group of a ferry ID: enough to tell keys apart in logs and UI, never enough to verify one
 * (45 bits can be brute-forced), so trust decisions always compare the whole key.
 */
export function shortFerryId(publicKey: Uint8Array): string {
  return formatFerryId(publicKey).slice(0, GROUP_CHARS);
}

/**
 * Parses a ferry ID back into its 32-byte public key. Upper or lower case, dashes anywhere or none, and
 * surrounding whitespace are accepted, because people copy IDs out of chat and terminals. Anything else is
 * ID_INVALID saying what is wrong: length, alphabet, or check characters (a typo).
 */
export function parseFerryId(text: string): Buffer {
  const chars = text.trim().toLowerCase().replaceAll('-', '');
  if (chars.length !== FERRY_ID_CHARS) {
    throw new FerryError(
      'ID_INVALID',
      `expected ${FERRY_ID_CHARS} characters (not counting dashes), got ${chars.length}`,
    );
  }
  for (let i = 0; i < chars.length; i++) {
    const char = chars.charAt(i);
    if (base32Value(char) === undefined) {
      throw new FerryError(
        'ID_INVALID',
        `character ${JSON.stringify(char)} at position ${i + 1} is not in the alphabet a-z 2-7`,
      );
    }
  }
  // The last key character holds 1 key bit and 4 padding bits. Non-zero padding would let several strings
  // name the same key (and slip a substitution past the check characters), so only the canonical form passes.
  const lastValue = base32Value(chars.charAt(KEY_CHARS - 1)) ?? 0;
  if ((lastValue & 0b01111) !== 0) {
    throw new FerryError(
      'ID_INVALID',
      `character ${KEY_CHARS} must be 'a' or 'q' (got ${JSON.stringify(chars.charAt(KEY_CHARS - 1))}); probably a typo`,
    );
  }
  const publicKey = decodeBase32(chars.slice(0, KEY_CHARS), PUBLIC_KEY_BYTES);
  if (checkChars(publicKey) !== chars.slice(KEY_CHARS)) {
    throw new FerryError('ID_INVALID', 'check characters do not match; the id has a typo or was cut');
  }
  return publicKey;
}

function checkKeyLength(publicKey: Uint8Array): void {
  if (publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new FerryError('ID_INVALID', `a public key is ${PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`);
  }
}

function checkChars(publicKey: Uint8Array): string {
  const digest = createHash('sha256').update(DOMAIN).update(publicKey).digest();
  const first10Bits = ((digest[0] ?? 0) << 2) | ((digest[1] ?? 0) >> 6);
  return ALPHABET.charAt(first10Bits >> 5) + ALPHABET.charAt(first10Bits & 31);
}
