import { FerryError } from '../errors/index.js';
import type { ChunkRange } from './chunk-ranges.js';
import {
  FILE_MODE_MASK,
  MAX_ACCEPT_RANGES,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_COUNT,
  MIN_CHUNK_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
} from './constants.js';
import type { PutOfferMessage } from './message-types.js';

// The rules of PROTOCOL.md §5 that go beyond byte layout, shared by the encoder and the decoder so that
// nothing is sent that a conforming peer would refuse. Each throws MESSAGE_MALFORMED naming the message.

const KNOWN_PERMISSIONS = PERMISSION_UPLOAD | PERMISSION_DOWNLOAD;

/**
 * Checks a transfer's `ref`: PROTOCOL.md §5.3 makes it non-zero; 0 means "the session" and is valid only in
 * ERROR.
 */
export function checkRef(ref: number, context: string): void {
  if (!Number.isInteger(ref) || ref < 1 || ref > 0xffffffff) {
    throw new FerryError('MESSAGE_MALFORMED', `${context}: ref must be from 1 to 4294967295, got ${ref}`);
  }
}

/** Checks WELCOME permissions: bits other than upload and download are reserved (PROTOCOL.md §5). */
export function checkPermissions(permissions: number): void {
  if (!Number.isInteger(permissions) || (permissions & ~KNOWN_PERMISSIONS) !== 0 || permissions < 0) {
    throw new FerryError('MESSAGE_MALFORMED', `welcome: unknown permission bits in ${permissions}`);
  }
}

/** Checks a chunk index: the last possible one is one below the largest chunk count (PROTOCOL.md §5.3). */
export function checkChunkIndex(index: number, context: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_CHUNK_COUNT) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `${context}: chunk index must be below ${MAX_CHUNK_COUNT}, got ${index}`,
    );
  }
}

/**
 * Checks where PUT_DATA ends: a file never exceeds 2^53-1 bytes here (larger sizes are refused), so
 * neither can the end of its data.
 */
export function checkDataEnd(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > Number.MAX_SAFE_INTEGER) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `put_data: ${length} bytes at offset ${offset} end past 2^53-1`,
    );
  }
}

/** Checks PUT_OFFER's ref, chunk size, chunk count and mode (PROTOCOL.md §5.3); not its path (§7.1). */
export function checkOffer(message: PutOfferMessage): void {
  const fail = (detail: string): FerryError => new FerryError('MESSAGE_MALFORMED', `put_offer: ${detail}`);
  checkRef(message.ref, 'put_offer');
  const { chunkBytes, size, mode } = message;
  // PROTOCOL.md §5.3: chunkBytes MUST be a power of two from 2^10 to 2^26.
  if (
    !Number.isInteger(chunkBytes) ||
    chunkBytes < MIN_CHUNK_BYTES ||
    chunkBytes > MAX_CHUNK_BYTES ||
    (chunkBytes & (chunkBytes - 1)) !== 0
  ) {
    throw fail(
      `chunkBytes ${chunkBytes} is not a power of two from ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES}`,
    );
  }
  if (!Number.isSafeInteger(size) || size < 0) throw fail(`size must be from 0 to 2^53-1, got ${size}`);
  // PROTOCOL.md §5.3: size / chunkBytes rounded up MUST NOT exceed 2^32-1.
  const chunks = Math.ceil(size / chunkBytes);
  if (chunks > MAX_CHUNK_COUNT)
    throw fail(`size ${size} needs ${chunks} chunks of ${chunkBytes}, limit ${MAX_CHUNK_COUNT}`);
  // PROTOCOL.md §5.3: mode is permission bits under the 0o7777 mask; file-type bits are not sent.
  if (!Number.isInteger(mode) || mode < 0 || (mode & ~FILE_MODE_MASK) !== 0) {
    throw fail(`mode 0o${Number(mode).toString(8)} has bits outside 0o7777`);
  }
}

/**
 * Checks PUT_ACCEPT ranges: at most 4096, ascending and not overlapping (PROTOCOL.md §5.4); each names at
 * least one chunk and stays below the largest chunk count (§5.3).
 */
export function checkRanges(ranges: readonly ChunkRange[], context: string): void {
  const fail = (detail: string): FerryError => new FerryError('MESSAGE_MALFORMED', `${context}: ${detail}`);
  if (ranges.length > MAX_ACCEPT_RANGES) throw fail(`${ranges.length} ranges, limit ${MAX_ACCEPT_RANGES}`);
  let nextFree = 0;
  for (const [i, { first, count }] of ranges.entries()) {
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 1) {
      throw fail(`range ${i} (first ${first}, count ${count}) is empty or invalid`);
    }
    if (first + count > MAX_CHUNK_COUNT) {
      throw fail(`range ${i} (first ${first}, count ${count}) ends past chunk ${MAX_CHUNK_COUNT - 1}`);
    }
    if (first < nextFree)
      throw fail(`range ${i} starts at ${first}, overlapping or below the previous end ${nextFree}`);
    nextFree = first + count;
  }
}
