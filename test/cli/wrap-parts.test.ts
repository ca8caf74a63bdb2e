import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wrapParts, wrapText } from '../../src/cli/wrap-parts.js';

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

test('wrapText breaks only at spaces, never inside a `backquoted command`, later lines indented', () => {
  const text = 'if that is the id, run `ferry trust host:7443 abc-def` or pass `--expect abc-def` (or not)';
  assert.deepEqual(wrapText(text, 200), [text]);
  const lines = wrapText(text, 34, '  ');
  assert.deepEqual(lines, [
    'if that is the id, run',
    '  `ferry trust host:7443 abc-def`',
    '  or pass `--expect abc-def` (or',
    '  not)',
  ]);
  assert.equal(lines.map((line) => line.trim()).join(' '), text);
  // A word wider than a line on its own, not a command, keeps a line of its own, whole.
  assert.deepEqual(wrapText('id abcdefghijklmnop, `x`', 10, ' '), ['id', ' abcdefghijklmnop,', ' `x`']);
  // Punctuation at a command's end stays with it; a lone backquote is a word like any other.
  assert.deepEqual(wrapText('run `a b`, then ` c', 6), ['run', '`a b`,', 'then `', 'c']);
});

test('wrapText keeps a size or a time with its unit', () => {
  // Broken at every space, 12 columns would leave `least 320` / `MiB of 1.00` / `GiB kept, 40` / `ms`.
  assert.deepEqual(wrapText('big.iso: at least 320 MiB of 1.00 GiB kept, 40 ms', 12), [
    'big.iso: at',
    'least',
    '320 MiB of',
    '1.00 GiB',
    'kept, 40 ms',
  ]);
  assert.deepEqual(wrapText('3 sockets', 1), ['3', 'sockets']);
});

test('wrapText carries a command wider than a line over several, continued for the shell, never inside a word', () => {
  const id = '7zilktinq-s6tm6l2ht-rpw5ip2qb-6gkr7wipt-2hmvk2hmu-t2ysjnqsq';
  const text = `ferry: SERVER_KEY_CHANGED: pinned X; run \`ferry trust 127.0.0.1:7443 ${id}\` or edit F`;
  const lines = wrapText(text, 79, '       ');
  assert.deepEqual(lines, [
    'ferry: SERVER_KEY_CHANGED: pinned X; run',
    '       `ferry trust 127.0.0.1:7443 \\',
    `         ${id}\` or edit F`,
  ]);
  for (const line of lines) assert.ok(line.length <= 79, line);
  // What a shell makes of the lines pasted (a backslash before the newline joins them): the command, whole.
  const pasted = /`([^`]*)`/.exec(lines.join('\n'))![1]!.replace(/ \\\n */g, ' ');
  assert.equal(pasted, `ferry trust 127.0.0.1:7443 ${id}`);
  // Narrower still: a line per word of the command, the one wider than a line whole; text stuck to the
  // backquotes stays with them; a command that fits a line of its own is left whole.
  assert.deepEqual(wrapText('(`ferry --home /a/b trust h:1 0123456789`).', 14, '  '), [
    '(`ferry \\',
    '    --home \\',
    '    /a/b trust \\',
    '    h:1 \\',
    '    0123456789`).',
  ]);
  assert.deepEqual(wrapText('run `a b c` now', 8), ['run', '`a b c`', 'now']);
});
