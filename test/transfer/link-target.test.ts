// assertLinkStaysInside: the lexical rule for symbolic link targets (PROTOCOL.md §5.10). Used by the server
// for PUT_LINK, by the client for links a (possibly hostile) server lists, and when walking a local tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertLinkStaysInside } from '../../src/transfer/index.js';
import { isFerryError } from '../../src/errors/index.js';

function refusal(components: string[], target: string, rootDepth: number): string {
  try {
    assertLinkStaysInside(components, target, rootDepth);
  } catch (err) {
    assert.ok(isFerryError(err), `a coded error, got ${String(err)}`);
    return err.code;
  }
  return 'accepted';
}

test('assertLinkStaysInside accepts targets that stay inside the root, including `..` within the bound', () => {
  const cases: Array<[string[], string, number]> = [
    [['a', 'link'], 'file', 0],
    [['a', 'link'], '../b/file', 0],
    [['a', 'b', 'link'], '../../c', 0],
    [['link'], 'sub/./file', 0],
    [['tree', 'a', 'link'], '../x', 1],
    [['tree', 'a', 'b', 'link'], '../../x', 1],
    [['sub', 'link'], 'x', 1],
  ];
  for (const [components, target, depth] of cases)
    assert.equal(refusal(components, target, depth), 'accepted', `${components.join('/')} -> ${target}`);
});

test('assertLinkStaysInside refuses absolute targets, backslashes and climbs past the root with PATH_ESCAPES_ROOT', () => {
  const cases: Array<[string[], string, number]> = [
    [['link'], '/etc/passwd', 0],
    [['a', 'link'], '/a/b', 0],
    [['link'], '..', 0],
    [['link'], '../x', 0],
    [['a', 'link'], '../../x', 0],
    [['a', 'link'], '../../../etc/passwd', 0],
    [['a', 'link'], 'b/../../../x', 0],
    [['tree', 'link'], '../other', 1],
    [['tree', 'a', 'link'], '../../x', 1],
    [['link'], '..\\..\\x', 0],
    [['a', 'link'], 'b\\..\\..\\x', 0],
  ];
  for (const [components, target, depth] of cases)
    assert.equal(
      refusal(components, target, depth),
      'PATH_ESCAPES_ROOT',
      `${components.join('/')} -> ${target} (root depth ${depth})`,
    );
});

test('assertLinkStaysInside refuses a target that leaves and comes back (the climb is checked at every step)', () => {
  // Lexically a/../../root/x would end inside a root named `root`, but it passes outside on the way.
  assert.equal(refusal(['root', 'link'], '../../root/x', 1), 'PATH_ESCAPES_ROOT');
});

test('assertLinkStaysInside refuses empty components with PATH_INVALID', () => {
  for (const target of ['a//b', 'a/', ''])
    assert.equal(refusal(['link'], target, 0), 'PATH_INVALID', JSON.stringify(target));
});

test('assertLinkStaysInside refuses a target into the reserved .ferry directory at the top of the root', () => {
  assert.equal(refusal(['link'], '.ferry/partial/x', 0), 'PATH_ESCAPES_ROOT');
  assert.equal(refusal(['a', 'link'], '../.FERRY', 0), 'PATH_ESCAPES_ROOT');
  // Only the top of the root is reserved; a nested `.ferry` is an ordinary name.
  assert.equal(refusal(['a', 'link'], '.ferry', 0), 'accepted');
});
