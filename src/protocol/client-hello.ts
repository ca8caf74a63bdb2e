import { FerryError } from '../errors/index.js';
import { decodeHandshakePayload, encodeHandshakePayload } from './handshake-payload.js';

/** ClientHello `mode` 0: an ordinary session (PROTOCOL.md §3.1, message 3). */
export const MODE_NORMAL = 0;
/** ClientHello `mode` 1: a pairing session, an unknown client allowed in to run §12. */
export const MODE_PAIRING = 1;
/** The modes a server accepts; any other byte fails the handshake (§3.1). */
export type HandshakeMode = typeof MODE_NORMAL | typeof MODE_PAIRING;

/** Handshake payload entry type of the client's mode, in message 3 (PROTOCOL.md §3.1.1). */
export const ENTRY_MODE = 0x0001;
/** The mode entry's value is one byte. */
export const CLIENT_HELLO_MODE_BYTES = 1;

// The entries each handshake message's receiver knows (PROTOCOL.md §3.1.1); others are skipped unless critical.
const MESSAGE_3_ENTRIES: ReadonlySet<number> = new Set([ENTRY_MODE]);
const NO_ENTRIES: ReadonlySet<number> = new Set();

/** ClientHello, the payload of handshake message 3: an entry list holding the mode (PROTOCOL.md §3.1). */
export function encodeClientHello(mode: HandshakeMode): Buffer {
  return encodeHandshakePayload([{ type: ENTRY_MODE, value: Buffer.of(mode) }]);
}

/**
 * Reads message 3's payload: exactly one mode entry of one known byte, else HANDSHAKE_FAILED (PROTOCOL.md
 * §3.1); unknown non-critical entries are skipped (§3.1.1).
 */
export function decodeClientHello(payload: Buffer): HandshakeMode {
  const mode = decodeHandshakePayload(payload, MESSAGE_3_ENTRIES).get(ENTRY_MODE);
  const value = mode?.[0];
  if (mode?.length !== CLIENT_HELLO_MODE_BYTES || (value !== MODE_NORMAL && value !== MODE_PAIRING))
    throw new FerryError('HANDSHAKE_FAILED', 'message 3 payload must hold one mode entry of one known byte');
  return value;
}

/** The payload of handshake messages 1 and 2 in version 2: an entry list with no entries (§3.1.1). */
export function encodeEmptyHello(): Buffer {
  return encodeHandshakePayload([]);
}

/**
 * Reads the payload of message 1 (server) or 2 (client): an entry list of which version 2 defines no entry,
 * so only its form is checked and unknown critical entries refused (PROTOCOL.md §3.1.1).
 */
export function decodeEmptyHello(payload: Buffer): void {
  decodeHandshakePayload(payload, NO_ENTRIES);
}
