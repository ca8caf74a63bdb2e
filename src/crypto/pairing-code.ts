import { BASE32_ALPHABET, base32Value, decodeBase32, encodeBase32 } from './base32.js';
import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { FerryError } from '../errors/index.js';

/**
 * One-time pairing codes (PROTOCOL.md §12.1): 12 base32 characters shown as `kq4m-7xhd-2pfa`,
 *
 *   characters 1-3   inviteId  15 random bits; names the invite on the server (sent in PAIR_HELLO)
 *   characters 4-11  secret    5 random bytes (40 bits); the CPace password, never sent
 *   character  12    check     first 5 bits of SHA-256("ferry-pair-code-v1" || characters 1-11)
 *
 * The check character catches typos before the client connects, so a typo never voids an invite.
 */

const ALPHABET = BASE32_ALPHABET;
const CHECK_DOMAIN = Buffer.from('ferry-pair-code-v1', 'ascii');

/** Characters of the invite id at the start of a code. */
export const INVITE_ID_CHARS = 3;
/** Bytes of the secret part (8 base32 characters, 40 bits). */
export const PAIRING_SECRET_BYTES = 5;
const SECRET_CHARS = 8;
/** Characters of a pairing code without dashes. */
export const PAIRING_CODE_CHARS = INVITE_ID_CHARS + SECRET_CHARS + 1;
const GROUP_CHARS = 4;

/**
 * A parsed or freshly generated pairing code. Holds the secret, so it prints as `[redacted]`; call
 * `dispose()` to zero the secret once the pairing has run.
 */
export class PairingCode {
  /** The public part: names the invite on the server. */
  readonly inviteId: string;
  /** The 5 secret bytes (the CPace password, §12.2). */
  readonly secret: Buffer;

  constructor(inviteId: string, secret: Uint8Array) {
    if (!isInviteId(inviteId)) throw new FerryError('PAIRING_CODE_INVALID', 'malformed invite id');
    if (secret.length !== PAIRING_SECRET_BYTES) {
      throw new FerryError(
        'PAIRING_CODE_INVALID',
        `the secret is ${PAIRING_SECRET_BYTES} bytes, got ${secret.length}`,
      );
    }
    this.inviteId = inviteId;
    this.secret = Buffer.from(secret);
  }

  /** The code as shown to people: 3 groups of 4 characters joined by '-'. */
  format(): string {
    return formatPairingCode(this.inviteId, this.secret);
  }

  /** Zeroes the secret. Idempotent. */
  dispose(): void {
    this.secret.fill(0);
  }

  [inspect.custom](): string {
    return `PairingCode ${this.inviteId} [redacted]`;
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }
}

/** True when `text` is a well-formed invite id (3 characters of the lower-case base32 alphabet). */
export function isInviteId(text: string): boolean {
  return text.length === INVITE_ID_CHARS && [...text].every((char) => base32Value(char) !== undefined);
}

/** Options for {@link generatePairingCode}. */
export interface GeneratePairingCodeOptions {
  /** The random source; the system CSPRNG unless a test injects one. */
  random?: (bytes: number) => Uint8Array;
  /** Returns true for invite ids already in use; those are drawn again. */
  inviteIdTaken?: (inviteId: string) => boolean;
}

/** Draws a fresh code: a random invite id (unused per `inviteIdTaken`) and 40 random secret bits. */
export function generatePairingCode(options: GeneratePairingCodeOptions = {}): PairingCode {
  const random = options.random ?? randomBytes;
  const taken = options.inviteIdTaken ?? (() => false);
  let inviteId: string;
  let attempts = 0;
  do {
    if (++attempts > 1000) throw new FerryError('INTERNAL', 'could not draw an unused invite id');
    const bits = random(2);
    const value = (((bits[0] ?? 0) << 8) | (bits[1] ?? 0)) & 0x7fff;
    inviteId =
      ALPHABET.charAt(value >> 10) + ALPHABET.charAt((value >> 5) & 31) + ALPHABET.charAt(value & 31);
  } while (taken(inviteId));
  const secret = Buffer.from(random(PAIRING_SECRET_BYTES));
  try {
    return new PairingCode(inviteId, secret);
  } finally {
    secret.fill(0);
  }
}

/** Formats an invite id and secret as a code: `kq4m-7xhd-2pfa`. */
export function formatPairingCode(inviteId: string, secret: Uint8Array): string {
  const body = inviteId + encodeSecret(secret);
  const chars = body + checkChar(body);
  const groups: string[] = [];
  for (let i = 0; i < chars.length; i += GROUP_CHARS) groups.push(chars.slice(i, i + GROUP_CHARS));
  return groups.join('-');
}

/**
 * Parses a code as people type it: upper or lower case, dashes and spaces anywhere or nowhere. Anything else
 * is PAIRING_CODE_INVALID saying what is wrong (length, alphabet, or the check character: a typo), and never
 * echoing the code itself.
 */
export function parsePairingCode(text: string): PairingCode {
  const chars = text.toLowerCase().replace(/[\s-]+/g, '');
  if (chars.length !== PAIRING_CODE_CHARS) {
    throw new FerryError(
      'PAIRING_CODE_INVALID',
      `expected ${PAIRING_CODE_CHARS} characters (not counting dashes), got ${chars.length}`,
    );
  }
  for (let i = 0; i < chars.length; i++) {
    if (base32Value(chars.charAt(i)) === undefined) {
      throw new FerryError('PAIRING_CODE_INVALID', `character ${i + 1} is not in the alphabet a-z 2-7`);
    }
  }
  const body = chars.slice(0, PAIRING_CODE_CHARS - 1);
  if (checkChar(body) !== chars.charAt(PAIRING_CODE_CHARS - 1)) {
    throw new FerryError('PAIRING_CODE_INVALID', 'the check character does not match; the code has a typo');
  }
  const secret = decodeSecret(body.slice(INVITE_ID_CHARS));
  try {
    return new PairingCode(body.slice(0, INVITE_ID_CHARS), secret);
  } finally {
    secret.fill(0);
  }
}

function checkChar(body: string): string {
  const digest = createHash('sha256').update(CHECK_DOMAIN).update(body, 'ascii').digest();
  return ALPHABET.charAt((digest[0] ?? 0) >> 3);
}

// 5 bytes are exactly 8 base32 characters (40 bits): no padding to worry about.
function encodeSecret(secret: Uint8Array): string {
  if (secret.length !== PAIRING_SECRET_BYTES) {
    throw new FerryError(
      'PAIRING_CODE_INVALID',
      `the secret is ${PAIRING_SECRET_BYTES} bytes, got ${secret.length}`,
    );
  }
  return encodeBase32(secret);
}

function decodeSecret(chars: string): Buffer {
  return decodeBase32(chars, PAIRING_SECRET_BYTES);
}
