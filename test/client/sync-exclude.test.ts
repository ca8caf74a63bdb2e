// The exclude patterns of `ferry sync` (src/client/sync-exclude.ts) as a pure rule: patterns and paths in,
// verdicts out, no file system. The walks that use it are exercised end to end in
// test/e2e/cli-sync-exclude.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ExcludePatterns,
  excludePatternsOfFile,
  excludedInTheWay,
  holdingExcluded,
} from '../../src/client/sync-exclude.js';
import { isFerryError } from '../../src/errors/index.js';

/** [pattern, path, isDirectory, excluded] */
const CASES: Array<[string, string, boolean, boolean]> = [
  // A name without `/` matches at any depth, the name alone.
  ['*.log', 'a.log', false, true],
  ['*.log', 'deep/er/a.log', false, true],
  ['*.log', 'a.log.txt', false, false],
  ['*.log', 'logs.d/a.txt', false, false],
  ['node_modules', 'node_modules', true, true],
  ['node_modules', 'pkg/node_modules', true, true],
  ['node_modules', 'pkg/node_modules', false, true],
  ['node_modules', 'node_modules2', true, false],
  // `*` never crosses `/`: `a*b` is not `a/b`.
  ['a*b', 'a/b', false, false],
  ['a*b', 'axxb', false, true],
  ['*', 'anything', false, true],
  // `?` is one character, not `/`.
  ['?.c', 'x.c', false, true],
  ['?.c', 'xy.c', false, false],
  ['a?b', 'a/b', false, false],
  // `[...]`, negated with `!` or `^`, ranges, a `]` first.
  ['[ab].txt', 'b.txt', false, true],
  ['[ab].txt', 'c.txt', false, false],
  ['[!ab].txt', 'c.txt', false, true],
  ['[^ab].txt', 'a.txt', false, false],
  ['file[0-9]', 'file7', false, true],
  ['file[0-9]', 'filex', false, false],
  ['[]x]', ']', false, true],
  // An unclosed `[` is a literal.
  ['a[b', 'a[b', false, true],
  // A leading `/` anchors at SRC's top.
  ['/build', 'build', true, true],
  ['/build', 'src/build', true, false],
  ['/docs/*.tmp', 'docs/x.tmp', false, true],
  ['/docs/*.tmp', 'a/docs/x.tmp', false, false],
  ['/*.o', 'x.o', false, true],
  ['/*.o', 'd/x.o', false, false],
  // A `/` inside: whole trailing components, at any depth.
  ['docs/*.tmp', 'docs/x.tmp', false, true],
  ['docs/*.tmp', 'a/docs/x.tmp', false, true],
  ['docs/*.tmp', 'a/mydocs/x.tmp', false, false],
  ['docs/*.tmp', 'docs/sub/x.tmp', false, false],
  // A trailing `/`: directories only.
  ['cache/', 'cache', true, true],
  ['cache/', 'cache', false, false],
  ['cache/', 'a/cache', true, true],
  ['/cache/', 'cache', true, true],
  ['/cache/', 'a/cache', true, false],
  // `**` crosses `/`.
  ['/a/**/z', 'a/b/c/z', false, true],
  ['/a/**/z', 'a/z', false, false],
  ['/a/**', 'a/b/c', false, true],
  ['**/tmp', 'x/y/tmp', true, true],
  ['x**y', 'x/a/b/y', false, true],
  ['x**y', 'q/xa/by', false, true],
  // ... but starts at a component, as any pattern with a `/` or `**` does.
  ['x**y', 'zx/ay', false, false],
  // `\` makes the next character literal.
  ['\\*', '*', false, true],
  ['\\*', 'a', false, false],
  ['a\\?', 'a?', false, true],
  ['a\\?', 'ab', false, false],
  // Dots are plain characters; a leading dot is matched by `*` (rsync, not the shell).
  ['*.txt', '.hidden.txt', false, true],
  ['.git', '.git', true, true],
];

for (const [pattern, path, isDirectory, excluded] of CASES)
  test(`ExcludePatterns ${JSON.stringify(pattern)} ${excluded ? 'excludes' : 'keeps'} ${isDirectory ? 'directory' : 'file'} ${path}`, () => {
    assert.equal(new ExcludePatterns([pattern]).excludes(path, isDirectory), excluded);
  });

test('ExcludePatterns excludes what any of several patterns excludes, and nothing when empty', () => {
  const patterns = new ExcludePatterns(['*.o', '/tmp/']);
  assert.equal(patterns.excludes('x.o', false), true);
  assert.equal(patterns.excludes('tmp', true), true);
  assert.equal(patterns.excludes('x.c', false), false);
  assert.equal(new ExcludePatterns([]).empty, true);
  assert.equal(new ExcludePatterns([]).excludes('x', false), false);
});

test('ExcludePatterns.removesNotUtf8 only without patterns: any pattern, even one matching no such name, keeps them', () => {
  // A pattern is UTF-8 and never matches `x\xfe.key`, so with one given an excluded such name cannot be told.
  assert.equal(new ExcludePatterns([]).removesNotUtf8, true);
  assert.equal(new ExcludePatterns(['*.key']).removesNotUtf8, false);
  assert.equal(new ExcludePatterns(['/nothing-here/']).removesNotUtf8, false);
});

test('ExcludePatterns.filter drops excluded entries and everything below an excluded directory', () => {
  const entries = [
    { kind: 'file', path: 'keep.txt' },
    { kind: 'file', path: 'build/out.bin' },
    { kind: 'dir', path: 'build/sub' },
    { kind: 'file', path: 'build/sub/deep.txt' },
    { kind: 'dir', path: 'build' },
    { kind: 'file', path: 'src/build.txt' },
    { kind: 'file', path: 'src/a.log' },
    { kind: 'dir', path: 'src' },
    // A file named like a directory-only pattern stays.
    { kind: 'file', path: 'src/build' },
  ];
  const kept = new ExcludePatterns(['build/', '*.log']).filter(entries).map((e) => e.path);
  assert.deepEqual(kept, ['keep.txt', 'src/build.txt', 'src', 'src/build']);
});

test('ExcludePatterns.filter notes the excluded entries themselves, not what lies below them; excludedInTheWay keeps those SRC names', () => {
  const destination = [
    { kind: 'dir', path: 'cache' },
    { kind: 'file', path: 'cache/inner' },
    { kind: 'dir', path: 'cache/cache' },
    { kind: 'file', path: 'a.log' },
    { kind: 'dir', path: 'x/cache' },
  ];
  const tops: Array<{ kind: string; path: string }> = [];
  const kept = new ExcludePatterns(['cache/', '*.log']).filter(destination, tops);
  assert.deepEqual(kept, []);
  assert.deepEqual(
    tops.map((e) => e.path),
    ['cache', 'a.log', 'x/cache'],
  );
  // SRC's file `cache` (a directory-only pattern leaves it in) meets DST's directory; `x/cache` SRC lacks.
  assert.deepEqual(excludedInTheWay(tops, [{ path: 'cache' }, { path: 'keep.txt' }]), [
    { kind: 'dir', path: 'cache' },
  ]);
  assert.deepEqual(excludedInTheWay([], [{ path: 'cache' }]), []);
  // A listing that names `cache` a file and lists entries below it (a hostile server's) names a directory.
  assert.deepEqual(
    excludedInTheWay(tops, [{ path: 'cache' }], [{ path: 'cache' }, { path: 'cache/key' }]),
    [],
  );
});

test("holdingExcluded: SRC's files and links whose path is a directory above an excluded entry of DST", () => {
  const tops = [{ path: 'd/x.key' }, { path: 'deep/a/b/c.key' }, { path: 'dd.key' }, { path: 'e-f/y.key' }];
  const source = [
    { kind: 'file', path: 'd' },
    { kind: 'link', path: 'deep/a' },
    { kind: 'file', path: 'deep' },
    // A directory of SRC meets a directory: nothing is replaced.
    { kind: 'dir', path: 'e-f' },
    // `dd.key` and `e-f` sort between `e` and `e/`: a prefix, not a directory above them.
    { kind: 'file', path: 'e' },
    { kind: 'file', path: 'dd' },
    { kind: 'file', path: 'x.key' },
  ];
  assert.deepEqual([...holdingExcluded(tops, source)].sort(), ['d', 'deep', 'deep/a']);
  assert.deepEqual([...holdingExcluded([], source)], []);
});

test('ExcludePatterns refuses an empty pattern', () => {
  for (const pattern of ['', '/', '//'])
    assert.throws(
      () => new ExcludePatterns([pattern]),
      (err) => isFerryError(err, 'USAGE_INVALID'),
    );
});

test('ExcludePatterns matches a pattern of many stars against a long name without a blow-up', () => {
  const patterns = new ExcludePatterns([`${'*a'.repeat(40)}b`]);
  // Backtracking would take about 255^40 steps here; the position sets take 80 x 255.
  assert.equal(patterns.excludes('a'.repeat(255), false), false);
  assert.equal(patterns.excludes(`${'a'.repeat(254)}b`, false), true);
});

test('excludePatternsOfFile takes a pattern per line, leaving out blank lines and # or ; comments', () => {
  assert.deepEqual(excludePatternsOfFile('*.o\r\n\n# comment\n; comment\n/build/\n  spaced\n'), [
    '*.o',
    '/build/',
    '  spaced',
  ]);
});
