import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FerryError } from '../../src/errors/index.js';
import { entryRefusal } from '../../src/server/entry-refusal.js';

test('entryRefusal refuses one entry for trust, path, transfer and storage errors', () => {
  for (const code of ['PERMISSION_DENIED', 'PATH_ESCAPES_ROOT', 'FILE_EXISTS', 'DISK_FULL'] as const) {
    const err = new FerryError(code);
    assert.equal(entryRefusal(err), err, code);
  }
});

test('entryRefusal throws what ends the session: a protocol or internal error, anything uncoded', () => {
  assert.throws(() => entryRefusal(new FerryError('MESSAGE_MALFORMED')), { code: 'MESSAGE_MALFORMED' });
  assert.throws(() => entryRefusal(new FerryError('INTERNAL')), { code: 'INTERNAL' });
  assert.throws(() => entryRefusal(new Error('a bug')), { code: 'INTERNAL' });
});
