// The one ERROR-sending policy (PROTOCOL.md §5.1), used by the server session, pairing admission and the
// client's SOURCE_CHANGED report: what an error may put on the wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, FerryError, toFerryError } from '../../src/errors/index.js';
import {
  MAX_DETAIL_BYTES,
  decodeMessage,
  encodeMessage,
  errorMessageFor,
  type ErrorMessage,
} from '../../src/protocol/index.js';

/** The ERROR as the peer decodes it. */
function onTheWire(ref: number, error: FerryError): ErrorMessage {
  const message = decodeMessage(encodeMessage(errorMessageFor(ref, error)));
  assert.equal(message.type, 'ERROR');
  return message;
}

test('errorMessageFor sends the wire code and the coded detail of an operation error, for its ref', () => {
  const message = onTheWire(7, new FerryError('FILE_TOO_LARGE', '5000 bytes, limit 4096'));
  assert.deepEqual(message, {
    type: 'ERROR',
    ref: 7,
    code: ERROR_CODES.FILE_TOO_LARGE.wire,
    detail: '5000 bytes, limit 4096',
  });
});

test('errorMessageFor never sends the subject (a local path) or the stack, only the detail', () => {
  const error = toFerryError(
    Object.assign(new Error('EACCES: permission denied, open /srv/ferry/secret/plan.txt'), {
      code: 'EACCES',
      path: '/srv/ferry/secret/plan.txt',
    }),
  );
  const message = onTheWire(3, error);
  assert.equal(message.code, ERROR_CODES.IO_ERROR.wire);
  assert.equal(message.detail, 'permission denied (eacces)');
  assert.ok(error.message.includes('/srv/ferry'), 'the local message names the file');
  assert.ok(!message.detail.includes('/srv'));
});

test('errorMessageFor cuts a long detail to MAX_DETAIL_BYTES of UTF-8 without splitting a character', () => {
  // 'é' is 2 bytes and '€' 3: a cut at 1024 bytes falls inside a character for the second.
  for (const filler of ['a', 'é', '€', '😀']) {
    const detail = `x${filler.repeat(MAX_DETAIL_BYTES)}`;
    const message = onTheWire(1, new FerryError('PATH_INVALID', detail));
    const bytes = Buffer.byteLength(message.detail);
    assert.ok(bytes <= MAX_DETAIL_BYTES, `${bytes} bytes`);
    assert.ok(bytes > MAX_DETAIL_BYTES - Buffer.byteLength(filler), `${bytes} bytes: cut too short`);
    assert.ok(detail.startsWith(message.detail), 'a prefix of the detail, whole characters only');
    assert.ok(!message.detail.includes('\uFFFD'));
  }
});

test('errorMessageFor sends an internal error as a bare INTERNAL: its detail stays on this side', () => {
  const message = onTheWire(0, toFerryError(new TypeError('cannot read properties of undefined at x.ts:12')));
  assert.deepEqual(message, { type: 'ERROR', ref: 0, code: ERROR_CODES.INTERNAL.wire, detail: '' });
});

test('errorMessageFor sends a local-only error (no wire code) as a bare INTERNAL', () => {
  const message = onTheWire(2, new FerryError('ABORTED', 'stopped by the user at /home/me/file'));
  assert.deepEqual(message, { type: 'ERROR', ref: 2, code: ERROR_CODES.INTERNAL.wire, detail: '' });
});

test('errorMessageFor sends PAIRING_FAILED without detail, so an unknown, expired or wrong code read alike (§12.5)', () => {
  const unknown = onTheWire(0, new FerryError('PAIRING_FAILED', 'no such invite'));
  const wrong = onTheWire(0, new FerryError('PAIRING_FAILED', 'key confirmation failed'));
  assert.deepEqual(unknown, wrong);
  assert.equal(unknown.detail, '');
  assert.equal(unknown.code, ERROR_CODES.PAIRING_FAILED.wire);
});
