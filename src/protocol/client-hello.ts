import { FerryError } from '../errors/index.js';

/** ClientHello `mode` 0: an ordinary session (PROTOCOL.md §3.1, message 3). */
export const MODE_NORMAL = 0;
/** ClientHello `mode` 1: a pairing session, an unknown client allowed in to run §12. */
export const MODE_PAIRING = 1;
/** The modes a server accepts; any other byte fails the handshake (§3.1). */
export type HandshakeMode = typeof MODE_NORMAL | typeof MODE_PAIRING;

/** ClientHello, the payload of handshake message 3, is exactly one byte: `u8 mode` (PROTOCOL.md §3.1). */
export const CLIENT_HELLO_BYTES = 1;

/** The payload of handshake message 3 (PROTOCOL.md §3.1). */
export function encodeClientHello(mode: HandshakeMode): Buffer {
  return Buffer.of(mode);
}

/** Reads message 3's payload: exactly one known mode byte, else HANDSHAKE_FAILED (PROTOCOL.md §3.1). */
export function decodeClientHello(payload: Buffer): HandshakeMode {
  const mode = payload[0];
  if (payload.length !== CLIENT_HELLO_BYTES || (mode !== MODE_NORMAL && mode !== MODE_PAIRING))
    throw new FerryError('HANDSHAKE_FAILED', 'message 3 payload must be one known mode byte');
  return mode;
}
