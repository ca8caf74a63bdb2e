import { ERROR_CODES, type FerryError } from '../errors/index.js';
import { MAX_DETAIL_BYTES } from './constants.js';
import type { ErrorMessage } from './messages.js';

/**
 * The ERROR message that reports `error` for `ref` (0: the session), the one policy of both sides
 * (PROTOCOL.md §5.1): the error's wire code, or INTERNAL for a local-only one; its coded detail only (never
 * `message` or `subject`, which may name a local path, and never a stack), cut to MAX_DETAIL_BYTES of UTF-8
 * without splitting a character; blank for an internal or uncoded error, whose detail is this side's own
 * business, and for PAIRING_FAILED, so an unknown, expired or wrong pairing code read alike (§12.5 step 3).
 */
export function errorMessageFor(ref: number, error: FerryError): ErrorMessage {
  const blank = error.wireCode === null || error.category === 'internal' || error.code === 'PAIRING_FAILED';
  return {
    type: 'ERROR',
    ref,
    code: error.wireCode ?? ERROR_CODES.INTERNAL.wire,
    detail: blank ? '' : truncateUtf8(error.detail ?? '', MAX_DETAIL_BYTES),
  };
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}
