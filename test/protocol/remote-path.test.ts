import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FerryError } from '../../src/errors/index.js';
import { MAX_COMPONENT_BYTES, joinRemotePath, parseRemotePath } from '../../src/protocol/index.js';

const ACCEPTED: readonly [string, string[]][] = [
  ['a', ['a']],
  ['a/b', ['a', 'b']],
  ['dir/sub/file.txt', ['dir', 'sub', 'file.txt']],
  ['my file (1).txt', ['my file (1).txt']],
  [' leading and trailing spaces ', [' leading and trailing spaces ']],
  ['été/日本語/🗻.jpg', ['été', '日本語', '🗻.jpg']],
  ['.hidden/..dots/...', ['.hidden', '..dots', '...']],
  ['x/.ferry', ['x', '.ferry']],
  ['photos/.FERRY/partial/x', ['photos', '.FERRY', 'partial', 'x']],
  ['right-to-left \u202eoverride', ['right-to-left \u202eoverride']],
  ['no-break\u00a0space', ['no-break\u00a0space']],
  ['.ferryfile', ['.ferryfile']],
  ['é'.repeat(127), ['é'.repeat(127)]],
  ['a'.repeat(MAX_COMPONENT_BYTES), ['a'.repeat(MAX_COMPONENT_BYTES)]],
  [Array(16).fill('b'.repeat(255)).join('/'), Array(16).fill('b'.repeat(255))],
  [Array(17).fill('c'.repeat(240)).join('/'), Array(17).fill('c'.repeat(240))], // exactly 4096 bytes
];

const REFUSED: readonly [string, string][] = [
  ['the empty path', ''],
  ['a parent component first', '../x'],
  ['a parent component inside', 'a/../b'],
  ['a lone parent', '..'],
  ['a current component', 'a/./b'],
  ['a lone current', '.'],
  ['an absolute path', '/abs'],
  ['an empty component', 'a//b'],
  ['a trailing slash', 'a/'],
  ['a backslash', 'a\\b'],
  ['a NUL byte', 'a\u0000b'],
  ['a newline', 'a\nb'],
  ['a tab', 'a\tb'],
  ['a 0x1f byte', 'a\u001fb'],
  ['a DEL byte', 'a\u007fb'],
  ['the C1 control U+0080', 'a\u0080b'],
  ['the C1 control CSI U+009B', 'a\u009b2Jb'],
  ['the C1 control U+009F', 'dir/a\u009fb'],
  ['the reserved root', '.ferry'],
  ['a path under the reserved root', '.ferry/x'],
  ['the reserved root in upper case', '.FERRY/partial'],
  ['a 256-byte component', 'a'.repeat(256)],
  ['a 256-byte component of two-byte characters', 'é'.repeat(128)],
  ['a path over 4096 bytes', Array(17).fill('c'.repeat(241)).join('/')],
  ['a lone surrogate', 'a\ud800b'],
];

for (const [path, components] of ACCEPTED) {
  test(`\`parseRemotePath\` accepts ${JSON.stringify(path.length > 40 ? `${path.slice(0, 40)}…` : path)}`, () => {
    assert.deepEqual(parseRemotePath(path), components);
  });
}

for (const [name, path] of REFUSED) {
  test(`\`parseRemotePath\` refuses ${name} with PATH_INVALID`, () => {
    assert.throws(
      () => parseRemotePath(path),
      (err: unknown) => err instanceof FerryError && err.code === 'PATH_INVALID',
    );
  });
}

test('`parseRemotePath` error details do not echo the path', () => {
  try {
    parseRemotePath('secret-name/../x');
    assert.fail('expected PATH_INVALID');
  } catch (err) {
    assert.ok(err instanceof FerryError);
    assert.ok(!err.message.includes('secret-name'), err.message);
  }
});

test('`joinRemotePath` joins a directory and a name, the root being the empty directory', () => {
  assert.equal(joinRemotePath('', 'a.txt'), 'a.txt');
  assert.equal(joinRemotePath('dir', 'a.txt'), 'dir/a.txt');
  assert.equal(joinRemotePath('dir/', 'a.txt'), 'dir/a.txt');
  assert.equal(joinRemotePath('dir/sub', 'x/y'), 'dir/sub/x/y');
});

test('`joinRemotePath` refuses a result that is not a valid remote path', () => {
  const isInvalid = (err: unknown): boolean => err instanceof FerryError && err.code === 'PATH_INVALID';
  assert.throws(() => joinRemotePath('dir', '..'), isInvalid);
  assert.throws(() => joinRemotePath('', '.ferry'), isInvalid);
  assert.throws(() => joinRemotePath('/abs', 'a'), isInvalid);
  assert.throws(() => joinRemotePath('dir', ''), isInvalid);
});
