// resolveLinkTarget: the one rule for symbolic link targets (PROTOCOL.md §5.10), resolved physically through the
// other links of the tree. Used by the server for PUT_LINK, by the client for links a (possibly hostile) server
// lists, and when walking a local tree to send. linkVerdictOnDisk runs the same rule against a directory on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  MAX_LINK_HOPS,
  linkVerdictOnDisk,
  manifestLookup,
  resolveLinkTarget,
  type TreeNode,
} from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { SeededRandom } from '../helpers/seeded-random.js';

/** A manifest from `path: node` pairs; 'dir', 'file' or '-> target'. */
function tree(spec: Record<string, string>): Map<string, TreeNode> {
  const nodes = new Map<string, TreeNode>();
  for (const [path, what] of Object.entries(spec))
    nodes.set(
      path,
      what.startsWith('-> ') ? { kind: 'link', target: what.slice(3) } : { kind: what as 'dir' | 'file' },
    );
  return nodes;
}

function verdictOf(nodes: Map<string, TreeNode>, link: string, target: string, rootDepth: number): string {
  const verdict = resolveLinkTarget(manifestLookup(nodes), link.split('/'), target, rootDepth);
  return verdict.verdict === 'outside' ? verdict.code : verdict.verdict;
}

/** The old lexical cases, in a tree whose directories are real: the rule agrees with them. */
function lexical(components: string[], target: string, rootDepth: number): string {
  const nodes = new Map<string, TreeNode>();
  for (let i = 1; i < components.length; i++) nodes.set(components.slice(0, i).join('/'), { kind: 'dir' });
  return verdictOf(nodes, components.join('/'), target, rootDepth);
}

test('resolveLinkTarget accepts targets that stay inside the root, including `..` over real directories', () => {
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
    assert.equal(lexical(components, target, depth), 'inside', `${components.join('/')} -> ${target}`);
});

test('resolveLinkTarget refuses absolute targets, backslashes and climbs past the root with PATH_ESCAPES_ROOT', () => {
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
    // Leaves and comes back: lexically inside a root named `root`, but it passes outside on the way.
    [['root', 'link'], '../../root/x', 1],
  ];
  for (const [components, target, depth] of cases)
    assert.equal(
      lexical(components, target, depth),
      'PATH_ESCAPES_ROOT',
      `${components.join('/')} -> ${target} (root depth ${depth})`,
    );
});

test('resolveLinkTarget refuses empty components with PATH_INVALID', () => {
  for (const target of ['a//b', 'a/', '']) assert.equal(lexical(['link'], target, 0), 'PATH_INVALID');
});

test('resolveLinkTarget refuses a target into the reserved .ferry directory at the top of the root, also through a link', () => {
  assert.equal(lexical(['link'], '.ferry/partial/x', 0), 'PATH_ESCAPES_ROOT');
  assert.equal(lexical(['a', 'link'], '../.FERRY', 0), 'PATH_ESCAPES_ROOT');
  // Only the top of the root is reserved; a nested `.ferry` is an ordinary name.
  assert.equal(lexical(['a', 'link'], '.ferry', 0), 'inside');
  assert.equal(verdictOf(tree({ a: 'dir', 'a/up': '-> ..' }), 'a/l', 'up/.ferry', 0), 'PATH_ESCAPES_ROOT');
});

test('resolveLinkTarget refuses the chain y -> .., u1 -> y/.., u2 -> u1/.. that every lexical check accepts', () => {
  // The review's reproduction: each target is lexically inside, but `y/..` climbs from where `y` leads.
  const nodes = tree({
    t: 'dir',
    't/a': 'dir',
    't/a/b': 'dir',
    't/a/b/y': '-> ..',
    't/a/b/u1': '-> y/..',
    't/a/b/u2': '-> u1/..',
    't/a/b/u3': '-> u2/..',
  });
  assert.equal(verdictOf(nodes, 't/a/b/y', '..', 1), 'inside', 'y alone leads to t/a');
  for (const [link, target] of [
    ['u1', 'y/..'],
    ['u2', 'u1/..'],
    ['u3', 'u2/..'],
  ])
    assert.equal(verdictOf(nodes, `t/a/b/${link}`, target!, 1), 'PATH_ESCAPES_ROOT', link);
});

test('resolveLinkTarget refuses `..` after a link even where it lands inside today: the link may be replaced later', () => {
  // t/a/b/y -> .. leads to t/a; y/.. is t today, but once y is replaced by `../..` (itself inside) y/.. is
  // outside the tree. Only a climb over a real directory is stable.
  const nodes = tree({ t: 'dir', 't/a': 'dir', 't/a/b': 'dir', 't/a/b/y': '-> ..' });
  assert.equal(verdictOf(nodes, 't/a/b/u', 'y/..', 1), 'PATH_ESCAPES_ROOT');
  // Descending after a link is fine: whatever y becomes, it is itself checked to stay inside.
  assert.equal(verdictOf(nodes, 't/a/b/u', 'y/b/x', 1), 'inside');
  // `..` over a real directory reached below a link is fine too: y/b/.. is wherever y leads.
  assert.equal(verdictOf(nodes, 't/a/b/u', 'y/b/../x', 1), 'inside');
});

test('resolveLinkTarget refuses `..` after a name that is missing or a file: a later entry may make it a link', () => {
  const nodes = tree({ t: 'dir', 't/a': 'dir', 't/f': 'file' });
  assert.equal(verdictOf(nodes, 't/a/l', 'later/..', 1), 'PATH_ESCAPES_ROOT');
  assert.equal(verdictOf(nodes, 't/a/l', '../f/..', 1), 'PATH_ESCAPES_ROOT');
  assert.equal(verdictOf(nodes, 't/a/l', 'later/x/y', 1), 'inside');
});

test('resolveLinkTarget follows links to links: an innocent target whose chain ends outside is refused', () => {
  const nodes = tree({
    t: 'dir',
    't/a': 'dir',
    't/a/m': '-> n',
    't/a/n': '-> ../../..',
    't/a/abs': '-> /etc',
    't/a/fine': '-> ../a',
  });
  assert.equal(verdictOf(nodes, 't/a/l', 'm', 1), 'PATH_ESCAPES_ROOT');
  assert.equal(verdictOf(nodes, 't/a/l', 'm/passwd', 1), 'PATH_ESCAPES_ROOT');
  assert.equal(verdictOf(nodes, 't/a/l', 'abs/passwd', 1), 'PATH_ESCAPES_ROOT');
  assert.equal(verdictOf(nodes, 't/l', 'a/fine/x', 1), 'inside');
});

test(`resolveLinkTarget refuses a loop of links after ${MAX_LINK_HOPS} hops, and the link itself as a directory on its path`, () => {
  const nodes = tree({ t: 'dir', 't/p': '-> q', 't/q': '-> p', 't/d': '-> .' });
  assert.equal(verdictOf(nodes, 't/l', 'p/x', 1), 'PATH_ESCAPES_ROOT');
  const self = tree({ t: 'dir', 't/l': '-> l' });
  assert.equal(verdictOf(self, 't/l', 'l', 1), 'PATH_ESCAPES_ROOT');
  assert.equal(verdictOf(nodes, 't/d/l', 'x', 1), 'PATH_ESCAPES_ROOT', 'never made below a link');
});

test('resolveLinkTarget asks for what it does not know, one path at a time', () => {
  const known = new Map<string, TreeNode>([['t', { kind: 'dir' }]]);
  const asked: string[] = [];
  let verdict = resolveLinkTarget((c) => known.get(c.join('/')), ['t', 'l'], 'a/b', 1);
  while (verdict.verdict === 'unknown') {
    asked.push(verdict.components.join('/'));
    known.set(
      verdict.components.join('/'),
      asked.length === 1 ? { kind: 'link', target: '.' } : { kind: 'dir' },
    );
    verdict = resolveLinkTarget((c) => known.get(c.join('/')), ['t', 'l'], 'a/b', 1);
  }
  assert.deepEqual(asked, ['t/a', 't/b']);
  assert.equal(verdict.verdict, 'inside');
});

/** What the kernel would do: follow every link, no rule about `..`. 'outside', 'inside' or 'dangling'. */
function kernelResolve(
  nodes: Map<string, TreeNode>,
  dir: string[],
  target: string,
  rootDepth: number,
): string {
  const stack = [...dir];
  const queue = target.split('/');
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      if (stack.length <= rootDepth) return 'outside';
      stack.pop();
      continue;
    }
    const node = nodes.get([...stack, part].join('/'));
    if (node === undefined) return 'dangling';
    if (node.kind === 'link') {
      if (++hops > MAX_LINK_HOPS) return 'dangling';
      queue.unshift(...node.target.split('/'));
    } else if (node.kind === 'dir') stack.push(part);
    else return queue.length === 0 ? 'inside' : 'dangling';
  }
  return 'inside';
}

test('links accepted one by one, in any order, with replacements and later directories, never resolve outside the tree (5000 random histories)', () => {
  const rng = new SeededRandom(0x11_0001);
  const random = (): number => rng.next();
  const names = ['a', 'b', 'y', 'u'];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  let accepted = 0;
  for (let history = 0; history < 5000; history++) {
    const nodes = tree({ t: 'dir', 't/a': 'dir' });
    for (let step = 0; step < 12; step++) {
      const dir = pick(['t', 't/a', 't/a/b', 't/b', 't/y']);
      if (nodes.get(dir)?.kind !== 'dir') continue;
      const path = `${dir}/${pick(names)}`;
      const existing = nodes.get(path);
      if (random() < 0.2) {
        if (existing === undefined) nodes.set(path, { kind: 'dir' });
        continue;
      }
      // A link is made where nothing is, or replaces a link (OVERWRITE); never a directory or a file.
      if (existing !== undefined && existing.kind !== 'link') continue;
      const target = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
        pick(['..', '..', '.', ...names]),
      ).join('/');
      if (resolveLinkTarget(manifestLookup(nodes), path.split('/'), target, 1).verdict !== 'inside') continue;
      nodes.set(path, { kind: 'link', target });
      accepted++;
      // Every link in the tree, including the ones made long before this one, still resolves inside.
      for (const [other, node] of nodes) {
        if (node.kind !== 'link') continue;
        const components = other.split('/');
        const result = kernelResolve(nodes, components.slice(0, -1), node.target, 1);
        assert.notEqual(
          result,
          'outside',
          `history ${history}: ${other} -> ${node.target} escapes after ${path} -> ${target}\n${JSON.stringify([...nodes])}`,
        );
      }
    }
  }
  assert.ok(accepted > 5000, `enough links were accepted to mean something: ${accepted}`);
});

test('linkVerdictOnDisk follows the links already on disk: a chain planted earlier cannot be extended, a fine link is accepted', async (t) => {
  const root = await makeTempDir('ferry-link-target-');
  t.after(() => removeTempDir(root));
  await mkdir(join(root, 't', 'a', 'b'), { recursive: true });
  // What a8541e7 accepted: each is lexically inside.
  await symlink('..', join(root, 't', 'a', 'b', 'y'));
  await symlink('y/..', join(root, 't', 'a', 'b', 'u1'));
  await symlink('/etc', join(root, 't', 'abs'));
  for (const [link, target] of [
    ['t/a/b/l', 'u1/..'],
    ['t/a/b/l', 'u1/x'],
    ['t/l', 'abs/passwd'],
    ['t/a/b/l', 'y/..'],
    ['t/a/l', 'later/../..'],
  ] as const) {
    const verdict = await linkVerdictOnDisk(root, link.split('/'), target, 1);
    assert.equal(verdict.verdict, 'outside', `${link} -> ${target}`);
  }
  assert.equal((await linkVerdictOnDisk(root, ['t', 'a', 'l'], 'b/y/b', 1)).verdict, 'inside');
  assert.equal((await linkVerdictOnDisk(root, ['t', 'new', 'l'], '../a/b', 1)).verdict, 'inside');
});
