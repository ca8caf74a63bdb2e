import { BASE32_ALPHABET, base32Value } from './base32.js';
import { createHash, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { FerryError } from '../errors/index.js';

/**
 * One-time pairing codes (PROTOCOL.md §12.1): 12 base32 characters shown as `kq4m-7xhd-2pfa`,
 *
 *   characters 1-5   inviteId  25 random bits; names the invite on the server (sent in PAIR_HELLO)
 *   characters 6-11  secret    30 random bits; the CPace password, never sent
 *   character  12    check     first 5 bits of SHA-256("ferry-pair-code-v2" || characters 1-11)
 *
 * The check character catches typos before the client connects, so a typo never voids an invite. Why 25 and
 * 30 bits and not v1's 15 and 40: the secret gets one guess per invite, the invite id gets every guess at the
 * pairing rate limit (docs/SECURITY.md, "Pairing", has the arithmetic).
 */

const ALPHABET = BASE32_ALPHABET;
const CHECK_DOMAIN = Buffer.from('ferry-pair-code-v2', 'ascii');

/** Characters of the invite id at the start of a code (25 bits). */
export const INVITE_ID_CHARS = 5;
/** Random bits of the secret part (6 base32 characters). */
export const PAIRING_SECRET_BITS = 30;
/**
 * Bytes of the secret as the protocol uses it (§12.1.2, §12.2): its 30 bits as a big-endian 32-bit number, so
 * the top 2 bits of the first byte are always zero.
 */
export const PAIRING_SECRET_BYTES = 4;
const SECRET_CHARS = 6;
const INVITE_ID_BITS = INVITE_ID_CHARS * 5;
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
  /** The 4 secret bytes (30 bits; the CPace password, §12.2). */
  readonly secret: Buffer;

  constructor(inviteId: string, secret: Uint8Array) {
    if (!isInviteId(inviteId)) throw new FerryError('PAIRING_CODE_INVALID', 'malformed invite id');
    checkSecret(secret);
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

/** True when `text` is a well-formed invite id (5 characters of the lower-case base32 alphabet). */
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

/** True when `secret` is a well-formed secret: 4 bytes whose top 2 bits are zero (§12.1.2). */
export function isPairingSecret(secret: Uint8Array): boolean {
  return secret.length === PAIRING_SECRET_BYTES && (secret[0] ?? 0) >> (PAIRING_SECRET_BITS - 24) === 0;
}

/** 30 random bits as a secret (§12.1.2): 4 bytes whose top 2 bits are cleared. Zero it after use. */
export function randomPairingSecret(random: (bytes: number) => Uint8Array = randomBytes): Buffer {
  const secret = Buffer.from(random(PAIRING_SECRET_BYTES));
  // Keep the low 30 bits: 2^32 is a multiple of 2^30, so every secret stays equally likely.
  secret[0] = (secret[0] ?? 0) & (2 ** (PAIRING_SECRET_BITS - 24) - 1);
  return secret;
}

/** Draws a fresh code: a random invite id (unused per `inviteIdTaken`) and 30 random secret bits. */
export function generatePairingCode(options: GeneratePairingCodeOptions = {}): PairingCode {
  const random = options.random ?? randomBytes;
  const taken = options.inviteIdTaken ?? (() => false);
  let inviteId: string;
  let attempts = 0;
  do {
    if (++attempts > 1000) throw new FerryError('INTERNAL', 'could not draw an unused invite id');
    inviteId = encodeBits(Buffer.from(random(4)).readUInt32BE(0) % 2 ** INVITE_ID_BITS, INVITE_ID_CHARS);
  } while (taken(inviteId));
  const secret = randomPairingSecret(random);
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

function checkSecret(secret: Uint8Array): void {
  if (!isPairingSecret(secret)) {
    throw new FerryError(
      'PAIRING_CODE_INVALID',
      `the secret is ${PAIRING_SECRET_BYTES} bytes holding ${PAIRING_SECRET_BITS} bits`,
    );
  }
}

/** `value` (below 2^(5·chars)) as `chars` base32 characters, most significant first. */
function encodeBits(value: number, chars: number): string {
  let out = '';
  for (let i = chars - 1; i >= 0; i--) out += ALPHABET.charAt(Math.floor(value / 2 ** (5 * i)) % 32);
  return out;
}

// The secret's 30 bits are exactly 6 base32 characters: no padding to worry about.
function encodeSecret(secret: Uint8Array): string {
  checkSecret(secret);
  // Read in place: a copy of the secret would outlive dispose().
  const value = secret.reduce((acc, byte) => acc * 256 + byte, 0);
  return encodeBits(value, SECRET_CHARS);
}

function decodeSecret(chars: string): Buffer {
  let value = 0;
  for (const char of chars) value = value * 32 + (base32Value(char) ?? 0);
  const secret = Buffer.alloc(PAIRING_SECRET_BYTES);
  secret.writeUInt32BE(value, 0);
  return secret;
}
