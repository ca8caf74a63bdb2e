import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';
import { PREAMBLE_BYTES, PROTOCOL_VERSION } from './constants.js';

// PROTOCOL.md §2: the six bytes `FERRY\0` that open every session, before the u16 version.
const PREAMBLE_MAGIC = Buffer.from('FERRY\0', 'latin1');

/** The decoded preamble: the protocol version its sender speaks (PROTOCOL.md §2.1). */
export interface Preamble {
  version: number;
}

/**
 * Encodes the 8-byte preamble (PROTOCOL.md §2). The same bytes are the Noise prologue on both sides
 * (§2.4), so callers keep the buffer they sent or received.
 */
export function encodePreamble(version: number = PROTOCOL_VERSION): Buffer {
  if (!Number.isInteger(version) || version < 0 || version > 0xffff) {
    throw new FerryError('INTERNAL', `preamble version must be a u16, got ${version}`);
  }
  const bytes = Buffer.alloc(PREAMBLE_BYTES);
  PREAMBLE_MAGIC.copy(bytes, 0);
  bytes.writeUInt16BE(version, PREAMBLE_MAGIC.length);
  return bytes;
}

/**
 * Decodes an 8-byte preamble. Any other first six bytes are MESSAGE_MALFORMED (the server then closes
 * without a word, §2.2). The version is returned as is: deciding whether it is supported (§2.3) is the
 * caller's job, since only the caller knows which versions it speaks.
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
 * True when `bytes` starts with `FERRY\0`. A client that reads this where it expects handshake message 2
 * is talking to a server that refused its version (PROTOCOL.md §2.3). Fewer than 6 bytes is never a
 * preamble.
 */
export function isPreamble(bytes: Uint8Array): boolean {
  if (bytes.length < PREAMBLE_MAGIC.length) return false;
  for (let i = 0; i < PREAMBLE_MAGIC.length; i++) {
    if (bytes[i] !== PREAMBLE_MAGIC[i]) return false;
  }
  return true;
}
