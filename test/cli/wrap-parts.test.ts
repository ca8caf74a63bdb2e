import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrapParts } from '../../src/cli/wrap-parts.js';

test('wrapParts breaks only between parts, each line at most the width, later lines indented', () => {
  const parts = [
    'nothing to receive: 1 file already identical',
    '293 KiB checked in 16 ms',
    'digest f7bccfc92a7c272d',
  ];
  assert.deepEqual(wrapParts(parts, 200), [parts.join(', ')]);
  const lines = wrapParts(parts, 77, '  ');
  assert.deepEqual(lines, [
    'nothing to receive: 1 file already identical, 293 KiB checked in 16 ms,',
    '  digest f7bccfc92a7c272d',
  ]);
  for (const line of lines) assert.ok(line.length <= 77, line);
  assert.deepEqual(wrapParts(['a-part-wider-than-the-line', 'b'], 10), ['a-part-wider-than-the-line,', 'b']);
  assert.deepEqual(wrapParts([], 10), []);
});
