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

test('toFerryError tells a disk quota from a full disk, names the file when the system does, and keeps it off the wire detail', () => {
  const full = toFerryError(Object.assign(new Error('ENOSPC'), { code: 'ENOSPC', path: '/data/a.bin' }));
  assert.equal(full.code, 'DISK_FULL');
  assert.equal(full.message, 'no space left on the device: /data/a.bin');
  assert.equal(full.detail, undefined);
  const quota = toFerryError(Object.assign(new Error('EDQUOT'), { code: 'EDQUOT', path: '/home/me/a.bin' }));
  assert.equal(quota.code, 'DISK_FULL');
  assert.equal(quota.message, 'no space left on the device: /home/me/a.bin: disk quota exceeded (edquot)');
  assert.equal(quota.detail, 'disk quota exceeded (edquot)', 'the detail, which travels, has no path');
});

test('toFerryError names the file of a system error and says what the errno means, but keeps the path out of the wire detail', () => {
  const denied = Object.assign(new Error('EACCES: permission denied'), {
    code: 'EACCES',
    path: '/srv/ferry/secret.txt',
  });
  const error = toFerryError(denied);
  assert.equal(error.code, 'IO_ERROR');
  assert.equal(error.message, 'file system error: /srv/ferry/secret.txt: permission denied (eacces)');
  assert.equal(error.detail, 'permission denied (eacces)', 'the detail, which travels, has no path');
  const missing = toFerryError(Object.assign(new Error('ENOENT'), { code: 'ENOENT', path: '/tmp/x.bin' }));
  assert.equal(missing.code, 'PATH_NOT_FOUND');
  assert.equal(missing.message, 'no such file or directory: /tmp/x.bin');
  assert.equal(missing.detail, undefined);
});

test('toFerryError says what a failed connect means, and the cause to check as its hint; about() adds the address', () => {
  const unknown = toFerryError(Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }));
  assert.equal(
    unknown.about('nohost.invalid:7443').message,
    'could not connect: nohost.invalid:7443: unknown host (enotfound); is the name spelt right?',
  );
  assert.equal(unknown.detail, 'unknown host (enotfound)');
  assert.equal(unknown.about('x:1').code, 'CONNECT_FAILED');
  const refused = toFerryError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }));
  assert.equal(refused.detail, 'connection refused (econnrefused)');
  assert.equal(refused.hint, 'is the server running, on this port?');
  assert.equal(toFerryError(Object.assign(new Error('x'), { code: 'EHOSTUNREACH' })).hint, undefined);
});

test("a row's hint is the error's default next step: an explicit hint replaces it, '' drops it, about() keeps either", () => {
  const missing = new FerryError('KEY_NOT_FOUND', '/h/identity.key does not exist');
  assert.equal(missing.statement, 'no identity in this home: /h/identity.key does not exist');
  assert.equal(missing.hint, 'run `ferry keygen` first');
  assert.equal(missing.message, `${missing.statement}; run \`ferry keygen\` first`);
  const named = new FerryError('KEY_NOT_FOUND', missing.detail, {
    hint: 'run `ferry --home /h keygen` first',
  });
  assert.equal(named.hint, 'run `ferry --home /h keygen` first');
  const none = new FerryError('KEY_NOT_FOUND', undefined, { hint: '' });
  assert.equal(none.hint, undefined);
  assert.equal(none.about('/h').hint, undefined, 'no hint stays none, not the default again');
  assert.equal(named.about('/h').hint, named.hint);
});

test("a hint is this side's words: after the statement in the message, never in the detail, kept by about()", () => {
  const refused = new FerryError('PATH_NOT_FOUND', 'gone', { remote: true }).about('h:7443/a/b');
  const hinted = refused.withHint('`ferry ls h:7443/a` lists what is there').withHint('1 of 2 files failed');
  assert.equal(hinted.statement, 'no such file or directory: h:7443/a/b: gone');
  assert.equal(hinted.detail, 'gone', 'the detail stays the server’s alone');
  assert.equal(hinted.hint, '`ferry ls h:7443/a` lists what is there; 1 of 2 files failed');
  assert.equal(hinted.message, `${hinted.statement}; ${hinted.hint}`);
  assert.equal(hinted.remote, true);
  assert.equal(hinted.about('h:7443/c').hint, hinted.hint);
});
