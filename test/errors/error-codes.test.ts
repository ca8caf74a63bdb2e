import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERROR_CODES, codeFromWire, FerryError, toFerryError, EXIT_CODES } from '../../src/errors/index.js';

test('every wire code is unique and maps back to its code', () => {
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    if (spec.wire !== null) assert.equal(codeFromWire(spec.wire), code);
  }
});

test('an unknown wire code reads as INTERNAL', () => {
  assert.equal(codeFromWire(0x7777), 'INTERNAL');
});

test('every category has an exit code', () => {
  for (const spec of Object.values(ERROR_CODES)) assert.ok(EXIT_CODES[spec.category] > 0);
});

test('FerryError carries the table row and the detail', () => {
  const err = new FerryError('RECORD_TOO_LARGE', 'length 70000, cap 65535');
  assert.equal(err.code, 'RECORD_TOO_LARGE');
  assert.equal(err.category, 'protocol');
  assert.equal(err.wireCode, 0x0302);
  assert.equal(err.message, 'record exceeds size cap: length 70000, cap 65535');
});

test('toFerryError maps system errors to coded ones', () => {
  const enospc = Object.assign(new Error('no space'), { code: 'ENOSPC' });
  assert.equal(toFerryError(enospc).code, 'DISK_FULL');
  const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
  assert.equal(toFerryError(refused).code, 'CONNECT_FAILED');
  assert.equal(toFerryError(new Error('x')).code, 'INTERNAL');
});
