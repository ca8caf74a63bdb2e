import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';

/**
 * An entry type whose high bit is set is critical: a receiver that does not know it MUST fail the handshake
 * (PROTOCOL.md §3.1.1). Without the bit, an unknown entry is skipped, so later versions can add entries that
 * older peers may ignore.
 */
export const CRITICAL_ENTRY_BIT = 0x8000;

/** Bytes before each entry's value: u16 type, u16 length. */
const ENTRY_HEADER_BYTES = 4;

/** One entry of a handshake payload (PROTOCOL.md §3.1.1). */
export interface HandshakeEntry {
  type: number;
  value: Uint8Array;
}

/** Encodes entries as `u16 type | u16 length | value`, in strictly ascending type order (§3.1.1). */
export function encodeHandshakePayload(entries: readonly HandshakeEntry[]): Buffer {
  const parts: Buffer[] = [];
  let previous = -1;
  for (const { type, value } of entries) {
    if (!Number.isInteger(type) || type <= previous || type > 0xffff || value.length > 0xffff)
      throw new FerryError('INTERNAL', `handshake entry ${type} out of order or too long`);
    previous = type;
    const header = Buffer.alloc(ENTRY_HEADER_BYTES);
    header.writeUInt16BE(type, 0);
    header.writeUInt16BE(value.length, 2);
    parts.push(header, Buffer.from(value));
  }
  return Buffer.concat(parts);
}

/**
 * Decodes a handshake payload into the entries whose types are in `known` (PROTOCOL.md §3.1.1). A truncated
 * entry, types out of strictly ascending order (so none repeats) and an unknown critical entry are
 * HANDSHAKE_FAILED; an unknown entry without the critical bit is skipped.
 */
export function decodeHandshakePayload(payload: Uint8Array, known: ReadonlySet<number>): Map<number, Buffer> {
  const entries = new Map<number, Buffer>();
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  let offset = 0;
  let previous = -1;
  while (offset < bytes.length) {
    if (bytes.length - offset < ENTRY_HEADER_BYTES)
      throw new FerryError('HANDSHAKE_FAILED', `handshake payload: truncated entry at byte ${offset}`);
    const type = bytes.readUInt16BE(offset);
    const length = bytes.readUInt16BE(offset + 2);
    offset += ENTRY_HEADER_BYTES;
    if (length > bytes.length - offset)
      throw new FerryError(
        'HANDSHAKE_FAILED',
        `handshake payload: entry ${type} of ${length} bytes is truncated`,
      );
    if (type <= previous)
      throw new FerryError('HANDSHAKE_FAILED', `handshake payload: entry ${type} after ${previous}`);
    previous = type;
    if (known.has(type)) entries.set(type, Buffer.from(bytes.subarray(offset, offset + length)));
    else if ((type & CRITICAL_ENTRY_BIT) !== 0)
      throw new FerryError('HANDSHAKE_FAILED', `handshake payload: unknown critical entry ${type}`);
    offset += length;
  }
  return entries;
}
