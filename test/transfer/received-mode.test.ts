import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receivedDirectoryMode, receivedFileMode } from '../../src/transfer/index.js';

test('`receivedFileMode` drops setuid, setgid, sticky and group/other write, and keeps everything else', () => {
  assert.equal(receivedFileMode(0o7777), 0o755);
  assert.equal(receivedFileMode(0o4755), 0o755);
  assert.equal(receivedFileMode(0o666), 0o644);
  assert.equal(receivedFileMode(0o640), 0o640);
  assert.equal(receivedFileMode(0o400), 0o400);
  assert.equal(receivedFileMode(0), 0);
});

test('`receivedDirectoryMode` is never group/world-writable or special, and always owner rwx', () => {
  assert.equal(receivedDirectoryMode(0o7777), 0o755);
  assert.equal(receivedDirectoryMode(0o777), 0o755);
  assert.equal(receivedDirectoryMode(0o1777), 0o755);
  assert.equal(receivedDirectoryMode(0o750), 0o750);
  assert.equal(receivedDirectoryMode(0o500), 0o700);
  assert.equal(receivedDirectoryMode(0), 0o700);
  for (let mode = 0; mode <= 0o7777; mode++) {
    assert.equal(receivedDirectoryMode(mode) & 0o7022, 0, `mode ${mode.toString(8)}`);
    assert.equal(receivedFileMode(mode) & 0o7022, 0, `mode ${mode.toString(8)}`);
  }
});
