import { FerryError } from '../errors/index.js';
import type { ChunkRange } from './chunk-ranges.js';
import {
  MAX_GET_STRIPES,
  MAX_PATCH_PIECES,
  FILE_MODE_MASK,
  LEAF_BYTES,
  MAX_ACCEPT_RANGES,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_COUNT,
  MAX_LIST_ENTRIES,
  MIN_CHUNK_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
} from './constants.js';
import type { GetRequestMessage, ListEntry, PutOfferMessage } from './message-types.js';

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
 * Checks where PUT_DATA or GET_DATA ends: a file never exceeds 2^53-1 bytes here (larger sizes are refused),
 * so neither can the end of its data.
 */
export function checkDataEnd(offset: number, length: number, context: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > Number.MAX_SAFE_INTEGER) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `${context}: ${length} bytes at offset ${offset} end past 2^53-1`,
    );
  }
}

/** Checks a chunk size: PROTOCOL.md §5.3 makes it a power of two from 2^10 to 2^26 (also §5.11.1). */
export function checkChunkBytes(chunkBytes: number, context: string): void {
  if (
    !Number.isInteger(chunkBytes) ||
    chunkBytes < MIN_CHUNK_BYTES ||
    chunkBytes > MAX_CHUNK_BYTES ||
    (chunkBytes & (chunkBytes - 1)) !== 0
  ) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `${context}: chunkBytes ${chunkBytes} is not a power of two ` +
        `from ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES}`,
    );
  }
}

/**
 * Checks that a file of `size` bytes (field `field`) has at most 2^32-1 chunks of `chunkBytes`
 * (PROTOCOL.md §5.3) and returns that chunk count. `chunkBytes` must already have passed checkChunkBytes.
 */
export function checkChunkCount(size: number, chunkBytes: number, field: string, context: string): number {
  const fail = (detail: string): FerryError => new FerryError('MESSAGE_MALFORMED', `${context}: ${detail}`);
  if (!Number.isSafeInteger(size) || size < 0) throw fail(`${field} must be from 0 to 2^53-1, got ${size}`);
  const chunks = Math.ceil(size / chunkBytes);
  if (chunks > MAX_CHUNK_COUNT)
    throw fail(`${field} ${size} needs ${chunks} chunks of ${chunkBytes}, limit ${MAX_CHUNK_COUNT}`);
  return chunks;
}

/** Checks a `mode`: permission bits under the 0o7777 mask, never file-type bits (PROTOCOL.md §5.3). */
export function checkMode(mode: number, context: string): void {
  if (!Number.isInteger(mode) || mode < 0 || (mode & ~FILE_MODE_MASK) !== 0) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `${context}: mode 0o${Number(mode).toString(8)} has bits outside 0o7777`,
    );
  }
}

/** Checks PUT_OFFER's ref, chunk size, chunk count and mode (PROTOCOL.md §5.3); not its path (§7.1). */
export function checkOffer(message: PutOfferMessage): void {
  checkRef(message.ref, 'put_offer');
  // PROTOCOL.md §5.3: chunkBytes MUST be a power of two from 2^10 to 2^26.
  checkChunkBytes(message.chunkBytes, 'put_offer');
  // PROTOCOL.md §5.3: size / chunkBytes rounded up MUST NOT exceed 2^32-1.
  checkChunkCount(message.size, message.chunkBytes, 'size', 'put_offer');
  checkMode(message.mode, 'put_offer');
}

/**
 * Checks PUT_ACCEPT or GET_REQUEST ranges: at most 4096, ascending and not overlapping (PROTOCOL.md §5.4);
 * each names at least one chunk and stays below the largest chunk count (§5.3).
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

/**
 * Checks GET_REQUEST beyond its layout (PROTOCOL.md §5.11.1): a non-zero ref, a chunk size as in PUT_OFFER,
 * ranges as in PUT_ACCEPT that lie inside the `heldSize` file, a zero `haveDigest` when nothing is held,
 * and with `verifyOnly` no held set at all. Not the path (§7.1).
 */
export function checkGetRequest(message: GetRequestMessage): void {
  const fail = (detail: string): FerryError => new FerryError('MESSAGE_MALFORMED', `get_request: ${detail}`);
  checkRef(message.ref, 'get_request');
  checkChunkBytes(message.chunkBytes, 'get_request');
  const heldChunks = checkChunkCount(message.heldSize, message.chunkBytes, 'heldSize', 'get_request');
  const { ranges, haveDigest } = message;
  checkRanges(ranges, 'get_request');
  const last = ranges.at(-1);
  if (last !== undefined && last.first + last.count > heldChunks) {
    const end = last.first + last.count;
    throw fail(`ranges end at chunk ${end}, past the ${heldChunks} chunks of heldSize ${message.heldSize}`);
  }
  // PROTOCOL.md §5.4: the digest over no chunk hashes is 32 zero bytes; any other value would be a claim
  // about chunks the client does not name.
  if (ranges.length === 0 && !haveDigest.every((byte) => byte === 0)) {
    throw fail('haveDigest must be zero when no ranges are held');
  }
  // PROTOCOL.md §5.11.1: VERIFY_ONLY asks the server for its size and digest; the client states nothing
  // about its own file (no size, no hashes), so a server cannot test guesses about it.
  if (message.verifyOnly && (message.heldSize !== 0 || ranges.length > 0)) {
    throw fail(`a verifyOnly request holds nothing, got heldSize ${message.heldSize}`);
  }
  // PROTOCOL.md §5.17.1: a SIGNATURE request holds nothing (what the client holds is its own business until it
  // has matched the signature), names one leaf as its chunk size, and is neither VERIFY_ONLY nor striped.
  if (message.signature) {
    if (message.verifyOnly || message.stripe !== undefined)
      throw fail('a signature request is neither verifyOnly nor striped');
    if (message.heldSize !== 0 || ranges.length > 0)
      throw fail(`a signature request holds nothing, got heldSize ${message.heldSize}`);
    if (message.chunkBytes !== LEAF_BYTES)
      throw fail(`a signature request's chunkBytes is ${LEAF_BYTES}, got ${message.chunkBytes}`);
  }
  // PROTOCOL.md §5.17.4: a PATCH names 1 to 4096 pieces of one-leaf chunks, in order, apart, each inside
  // one chunk; it is asked after a signature, so it is neither VERIFY_ONLY, striped nor a signature request.
  const { patch } = message;
  if (patch !== undefined) {
    if (message.verifyOnly || message.stripe !== undefined || message.signature)
      throw fail('a patch request is neither verifyOnly, striped nor a signature request');
    if (message.chunkBytes !== LEAF_BYTES)
      throw fail(`a patch request's chunkBytes is ${LEAF_BYTES}, got ${message.chunkBytes}`);
    if (patch.length < 1 || patch.length > MAX_PATCH_PIECES)
      throw fail(`${patch.length} patch pieces, not 1 to ${MAX_PATCH_PIECES}`);
    let end = 0;
    for (const { offset, length } of patch) {
      if (!Number.isSafeInteger(offset) || offset < end || !Number.isInteger(length) || length < 1)
        throw fail(`patch piece of ${length} bytes at ${offset} overlaps or precedes the one before`);
      if (Math.floor(offset / LEAF_BYTES) !== Math.floor((offset + length - 1) / LEAF_BYTES))
        throw fail(`patch piece of ${length} bytes at ${offset} crosses a chunk`);
      end = offset + length;
    }
  }
  // PROTOCOL.md §5.13.6: a stripe is one of 2 to 16 shares, and never of a VERIFY_ONLY request.
  const { stripe } = message;
  if (stripe !== undefined) {
    if (message.verifyOnly) throw fail('a verifyOnly request cannot be striped');
    if (!Number.isInteger(stripe.count) || stripe.count < 2 || stripe.count > MAX_GET_STRIPES)
      throw fail(`stripe count ${stripe.count} is not 2 to ${MAX_GET_STRIPES}`);
    if (!Number.isInteger(stripe.index) || stripe.index < 0 || stripe.index >= stripe.count)
      throw fail(`stripe index ${stripe.index} is not below its count ${stripe.count}`);
    if (!Number.isSafeInteger(stripe.minBytes) || stripe.minBytes < 0)
      throw fail(`stripe minBytes ${stripe.minBytes} is not a byte count`);
  }
}

/**
 * Checks a symbolic link target as the wire sees it (PROTOCOL.md §5.10): non-empty and free of NUL, which
 * no file system accepts in a link. Where it points is the server's check, not the codec's.
 */
export function checkLinkTarget(target: string, field: string, context: string): void {
  if (target.length === 0) throw new FerryError('MESSAGE_MALFORMED', `${context}: ${field} is empty`);
  const nul = target.indexOf('\0');
  if (nul >= 0) {
    throw new FerryError('MESSAGE_MALFORMED', `${context}: ${field} contains byte 0x00 at character ${nul}`);
  }
}

/**
 * Checks one listed entry beyond its layout (PROTOCOL.md §5.12): a known kind, a mode as in §5.3, a
 * non-empty path, and a link target exactly when the entry is a link. `index` names it in the detail.
 */
export function checkListEntry(entry: ListEntry, index: number): void {
  const context = `list_entries: entry ${index}`;
  if (entry.kind !== 'file' && entry.kind !== 'dir' && entry.kind !== 'link') {
    throw new FerryError('MESSAGE_MALFORMED', `${context}: unknown kind ${String(entry.kind)}`);
  }
  checkMode(entry.mode, context);
  if (entry.path.length === 0) throw new FerryError('MESSAGE_MALFORMED', `${context}: path is empty`);
  if (entry.kind === 'link') checkLinkTarget(entry.linkTarget, 'linkTarget', context);
  else if (entry.linkTarget.length !== 0) {
    throw new FerryError('MESSAGE_MALFORMED', `${context}: a ${entry.kind} has a linkTarget`);
  }
}

/** Checks LIST_END's total: a listing has at most MAX_LIST_ENTRIES entries (PROTOCOL.md §5.12, §10). */
export function checkTotalEntries(totalEntries: number): void {
  if (!Number.isInteger(totalEntries) || totalEntries < 0 || totalEntries > MAX_LIST_ENTRIES) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `list_end: totalEntries must be from 0 to ${MAX_LIST_ENTRIES}, got ${totalEntries}`,
    );
  }
}
