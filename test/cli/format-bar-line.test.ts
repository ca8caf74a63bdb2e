import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBarLine } from '../../src/cli/format-bar-line.js';
import { colorsFor } from '../../src/cli/terminal-colors.js';

// Colours off: the columns counted are the characters themselves.
const c = colorsFor({ isTTY: false }, {});
const FIELDS = {
  name: 'inbox/cat.jpg',
  progress: 0.5,
  value: 524_288,
  total: 1_048_576,
  speed: 2_097_152,
  eta: 75,
};

test('formatBarLine on a wide terminal shows the name, the bar, percent, bytes, speed and ETA', () => {
  const line = formatBarLine(FIELDS, 120, c);
  assert.match(line, /^inbox\/cat\.jpg +█{12}░{12} {2}50% +512 KiB \/ 1.00 MiB +2.00 MiB\/s ETA 1m15s$/);
});

test('formatBarLine on a narrowing terminal drops the speed first, then the byte counts, then the ETA', () => {
  const shown = (width: number): string[] => {
    const line = formatBarLine(FIELDS, width, c);
    assert.ok(Array.from(line).length <= width, `width ${width}: ${line}`);
    return ['MiB/s', '512 KiB', 'ETA', '█'].filter((part) => line.includes(part));
  };
  assert.deepEqual(shown(76), ['MiB/s', '512 KiB', 'ETA', '█']);
  assert.deepEqual(shown(75), ['512 KiB', 'ETA', '█']);
  assert.deepEqual(shown(65), ['512 KiB', 'ETA', '█']);
  assert.deepEqual(shown(64), ['ETA', '█']);
  assert.deepEqual(shown(45), ['ETA', '█']);
  assert.deepEqual(shown(44), ['█']);
  assert.deepEqual(shown(34), ['█']);
  assert.deepEqual(shown(33), []);
  assert.match(formatBarLine(FIELDS, 33, c), /^inbox\/cat\.jpg +50%$/);
});

test('formatBarLine shortens a long name from the left, keeping the file name', () => {
  const line = formatBarLine({ ...FIELDS, name: `${'deep/'.repeat(20)}cat.jpg` }, 120, c);
  assert.match(line, /^…[^ ]*\/cat\.jpg █/);
});

test('formatBarLine says <1s for an ETA under a second and nothing once the file is done', () => {
  assert.match(formatBarLine({ ...FIELDS, eta: 0.4 }, 120, c), /ETA <1s$/);
  assert.doesNotMatch(formatBarLine({ ...FIELDS, progress: 1, eta: undefined }, 120, c), /ETA/);
});
