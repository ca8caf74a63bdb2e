import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receivedDirectoryMode, receivedFileMode } from '../../src/transfer/index.js';

/** Each [sent mode, mode stored] pair, checked against `modeOf`. */
function assertModes(modeOf: (mode: number) => number, cases: readonly [number, number][]): void {
  for (const [sent, stored] of cases)
    assert.equal(modeOf(sent), stored, `${modeOf.name}(0o${sent.toString(8)})`);
}

test('`receivedFileMode` drops setuid, setgid, sticky and group/other write, and keeps everything else', () => {
  assertModes(receivedFileMode, [
    [0o7777, 0o755],
    [0o4755, 0o755],
    [0o666, 0o644],
    [0o640, 0o640],
    [0o400, 0o400],
    [0, 0],
  ]);
});

test('`receivedDirectoryMode` is never group/world-writable or special, and always owner rwx', () => {
  assertModes(receivedDirectoryMode, [
    [0o7777, 0o755],
    [0o777, 0o755],
    [0o1777, 0o755],
    [0o750, 0o750],
    [0o500, 0o700],
    [0, 0o700],
  ]);
  for (let mode = 0; mode <= 0o7777; mode++) {
    assert.equal(receivedDirectoryMode(mode) & 0o7022, 0, `mode ${mode.toString(8)}`);
    assert.equal(receivedFileMode(mode) & 0o7022, 0, `mode ${mode.toString(8)}`);
  }
});
