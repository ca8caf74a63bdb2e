import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { FerryError, type ErrorCode } from '../../src/errors/index.js';

/** Bytes from hex written with spaces between fields, as the wire vectors are. */
export function hexBytes(hex: string): Buffer {
  return Buffer.from(hex.replace(/\s+/g, ''), 'hex');
}

/** 32 zero bytes in hex: an empty have-digest, or a placeholder hash. */
export const ZERO32 = '00'.repeat(32);

/** Asserts that `fn` throws a FerryError with exactly `code`. */
export function assertFerryCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FerryError, `expected a FerryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}
