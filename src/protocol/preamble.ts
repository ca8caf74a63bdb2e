import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';
import { PREAMBLE_BYTES, PROTOCOL_VERSION, VERSION_OFFER_BYTES } from './constants.js';

// PROTOCOL.md §2: the six bytes `FERRY\0` that open both the client's offer and the server's answer.
const PREAMBLE_MAGIC = Buffer.from('FERRY\0', 'latin1');

/** The decoded 8-byte preamble layout: `FERRY\0` and one u16 version (PROTOCOL.md §2). */
export interface Preamble {
  version: number;
}

/** The versions a client offers, both inclusive (PROTOCOL.md §2.1). */
export interface VersionOffer {
  min: number;
  max: number;
}

/**
 * Encodes the 8-byte layout `FERRY\0` || u16 version (PROTOCOL.md §2): the server's version answer (§2.3),
 * and what a version 1 client sent.
 */
export function encodePreamble(version: number = PROTOCOL_VERSION): Buffer {
  checkVersion(version);
  const bytes = Buffer.alloc(PREAMBLE_BYTES);
  PREAMBLE_MAGIC.copy(bytes, 0);
  bytes.writeUInt16BE(version, PREAMBLE_MAGIC.length);
  return bytes;
}

/**
 * Decodes the 8-byte layout. Any other first six bytes are MESSAGE_MALFORMED (the server then closes without
 * a word, §2.2). The version is returned as is: whether it is acceptable is the caller's decision (§2.3).
 */
export function decodePreamble(bytes: Uint8Array): Preamble {
  if (bytes.length !== PREAMBLE_BYTES) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `preamble: expected ${PREAMBLE_BYTES} bytes, got ${bytes.length}`,
    );
  }
  if (!isPreamble(bytes)) {
    throw new FerryError('MESSAGE_MALFORMED', 'preamble: bad magic, expected "FERRY\\0"');
  }
  // Reading the two bytes by hand works for any Uint8Array, not only Buffer.
  return { version: ((bytes[6] ?? 0) << 8) | (bytes[7] ?? 0) };
}

/**
 * Encodes the client's 10-byte version offer (PROTOCOL.md §2): `FERRY\0`, u16 highest, u16 lowest. The highest
 * sits where version 1 put its only version, so a version 1 server refuses it with its own preamble (§2.3).
 */
export function encodeVersionOffer(
  offer: VersionOffer = { min: PROTOCOL_VERSION, max: PROTOCOL_VERSION },
): Buffer {
  checkVersion(offer.min);
  checkVersion(offer.max);
  if (offer.min > offer.max) throw new FerryError('INTERNAL', `offer of ${offer.min} to ${offer.max}`);
  const bytes = Buffer.alloc(VERSION_OFFER_BYTES);
  encodePreamble(offer.max).copy(bytes, 0);
  bytes.writeUInt16BE(offer.min, PREAMBLE_BYTES);
  return bytes;
}

/**
 * Decodes a 10-byte version offer: bad magic, a wrong length or a lowest version above the highest is
 * MESSAGE_MALFORMED (the server closes without a word, §2.2).
 */
export function decodeVersionOffer(bytes: Uint8Array): VersionOffer {
  if (bytes.length !== VERSION_OFFER_BYTES) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `version offer: expected ${VERSION_OFFER_BYTES} bytes, got ${bytes.length}`,
    );
  }
  const { version: max } = decodePreamble(bytes.subarray(0, PREAMBLE_BYTES));
  const min = ((bytes[8] ?? 0) << 8) | (bytes[9] ?? 0);
  if (min > max)
    throw new FerryError('MESSAGE_MALFORMED', `version offer: lowest ${min} above highest ${max}`);
  return { min, max };
}

/**
 * The server's choice (PROTOCOL.md §2.3): the highest version it speaks inside the offer, or null when the
 * ranges do not meet (the server then answers with its own highest version and closes).
 */
export function chooseVersion(offer: VersionOffer, supported: VersionOffer): number | null {
  const chosen = Math.min(offer.max, supported.max);
  return chosen >= Math.max(offer.min, supported.min) ? chosen : null;
}

/**
 * The Noise prologue (PROTOCOL.md §2.5): the offer as sent and the answer as received, so that a change to
 * either in flight makes the handshake fail.
 */
export function versionPrologue(offer: Uint8Array, answer: Uint8Array): Buffer {
  return Buffer.concat([offer, answer]);
}

/**
 * True when `bytes` starts with `FERRY\0` (fewer than 6 bytes is never a preamble). A version 1 client reads
 * this where it expected handshake message 2 when a server refuses its version (§2.3).
 */
export function isPreamble(bytes: Uint8Array): boolean {
  if (bytes.length < PREAMBLE_MAGIC.length) return false;
  for (let i = 0; i < PREAMBLE_MAGIC.length; i++) {
    if (bytes[i] !== PREAMBLE_MAGIC[i]) return false;
  }
  return true;
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < 0 || version > 0xffff) {
    throw new FerryError('INTERNAL', `preamble version must be a u16, got ${version}`);
  }
}
