import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PERMISSIONS, isPermission, permissionBits, permissionNames } from '../../src/home/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';

// One mapping between the allow-list's names and WELCOME's bits (PROTOCOL.md §5.2), used by `ferry serve`,
// pairing admission and `ferry pair` alike.
test('permissionBits and permissionNames map the allow-list names to the WELCOME bits and back', () => {
  assert.equal(permissionBits([]), 0);
  assert.equal(permissionBits(['upload']), PERMISSION_UPLOAD);
  assert.equal(permissionBits(['download']), PERMISSION_DOWNLOAD);
  assert.equal(permissionBits(['download', 'upload']), PERMISSION_UPLOAD | PERMISSION_DOWNLOAD);
  for (const names of [[], ['upload'], ['download'], ['upload', 'download']] as const)
    assert.deepEqual(permissionNames(permissionBits(names)), names);
  assert.deepEqual(permissionNames(0xff), [...PERMISSIONS]);
});

test('isPermission accepts exactly upload and download', () => {
  assert.ok(PERMISSIONS.every(isPermission));
  for (const value of ['Upload', 'read', '', undefined, 1, ['upload']])
    assert.equal(isPermission(value), false);
});
