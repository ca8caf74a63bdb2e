// The rule of `ferry sync` (src/client/sync-plan.ts) as a pure function: two entry lists and the options
// in, the actions out, with no file and no server. The I/O around it is exercised end to end in
// test/e2e/cli-sync.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countSyncActions,
  filesToCompare,
  planSync,
  type SyncAction,
  type SyncEntry,
} from '../../src/client/sync-plan.js';

const TOP = { mode: 0o755, mtimeMs: 1_000 };

function file(path: string, size: number, mtimeMs: number): SyncEntry {
  return { kind: 'file', path, size, mtimeMs, mode: 0o644 };
}
function dir(path: string): SyncEntry {
  return { kind: 'dir', path, mode: 0o755, mtimeMs: 5 };
}
function link(path: string, target: string): SyncEntry {
  return { kind: 'link', path, target, mtimeMs: 7 };
}

/** The plan as one line per action, `verb path`, in order. */
function lines(actions: readonly SyncAction[]): string[] {
  return actions.map((a) => {
    switch (a.action) {
      case 'send':
        return `send ${a.path} ${a.reason}`;
      case 'delete':
        return `delete ${a.path} ${a.reason}`;
      case 'skip':
        return `skip ${a.path}`;
      case 'link':
        return `link ${a.path}${a.replace ? ' replace' : ''}`;
      case 'dir':
        return `dir ${a.path}`;
      case 'conflict':
        return `conflict ${a.path}`;
    }
  });
}

test('planSync sends new files, skips same size and mtime without reading, sends other sizes or mtimes as changed', () => {
  const actions = planSync({
    source: [file('new', 10, 1), file('same', 10, 2), file('grown', 11, 3), file('touched', 10, 5)],
    destination: [file('same', 10, 2), file('grown', 10, 3), file('touched', 10, 4)],
    top: TOP,
  });
  assert.deepEqual(lines(actions), [
    'send new new',
    'skip same',
    'send grown changed',
    'send touched changed',
    'dir ',
  ]);
  const counts = countSyncActions(actions);
  assert.equal(counts.filesSent, 3);
  assert.equal(counts.filesSkipped, 1);
  assert.equal(counts.bytesToSend, 31);
});

test('planSync compares by size and mtime to the millisecond, not below it', () => {
  const actions = planSync({
    source: [file('a', 1, 1000.9)],
    destination: [file('a', 1, 1000)],
    top: TOP,
  });
  assert.deepEqual(lines(actions), ['skip a', 'dir ']);
});

test('planSync with checksum sends a same-size same-mtime file whose digest differs and skips an equal one whatever its mtime', () => {
  const trees = {
    source: [file('differs', 4, 1), file('equal', 4, 1), file('touched', 4, 9), file('longer', 5, 1)],
    destination: [file('differs', 4, 1), file('equal', 4, 1), file('touched', 4, 1), file('longer', 4, 1)],
    top: TOP,
  };
  // Only same-size pairs are compared: another size is a change without reading either file.
  assert.deepEqual(filesToCompare(trees), ['differs', 'equal', 'touched']);
  const actions = planSync(trees, { checksum: true, identical: new Set(['equal', 'touched']) });
  assert.deepEqual(lines(actions), [
    'send differs changed',
    'skip equal',
    'skip touched',
    'send longer changed',
    'dir ',
  ]);
});

test('planSync never removes without delete, and with it removes the extras deepest first before anything is sent', () => {
  const trees = {
    source: [dir('keep'), file('keep/a', 1, 1), file('b', 2, 2)],
    destination: [
      dir('keep'),
      file('keep/a', 1, 1),
      file('keep/old', 1, 1),
      dir('gone'),
      dir('gone/sub'),
      file('gone/sub/x', 1, 1),
      link('l', 'b'),
    ],
    top: TOP,
  };
  assert.deepEqual(lines(planSync(trees)), ['skip keep/a', 'send b new', 'dir keep', 'dir ']);
  assert.deepEqual(lines(planSync(trees, { delete: true })), [
    'delete gone/sub/x extra',
    'delete gone/sub extra',
    'delete keep/old extra',
    'delete gone extra',
    'delete l extra',
    'skip keep/a',
    'send b new',
    'dir keep',
    'dir ',
  ]);
  assert.equal(countSyncActions(planSync(trees, { delete: true })).deleted, 5);
});

test('planSync makes missing links, replaces ones that point elsewhere, and skips ones that match', () => {
  const actions = planSync({
    source: [link('same', 'a'), link('moved', 'b'), link('new', 'c')],
    destination: [link('same', 'a'), link('moved', 'a')],
    top: TOP,
  });
  assert.deepEqual(lines(actions), ['skip same', 'link moved replace', 'link new', 'dir ']);
});

test('planSync gives every directory, empty ones included, its attributes deepest first and the top last', () => {
  const actions = planSync({
    source: [dir('a'), dir('a/b'), dir('a/b/empty'), dir('c')],
    destination: [],
    top: TOP,
  });
  assert.deepEqual(lines(actions), ['dir a/b/empty', 'dir a/b', 'dir a', 'dir c', 'dir ']);
  const top = actions.at(-1);
  assert.deepEqual(top, { action: 'dir', path: '', mode: 0o755, mtimeMs: 1_000 });
});

test('planSync removes an entry of another kind in the way first; a directory in the way needs delete', () => {
  const trees = {
    source: [file('x', 1, 1), dir('y'), link('z', 'x')],
    destination: [dir('x'), file('x/inner', 1, 1), file('y', 1, 1), file('z', 1, 1)],
    top: TOP,
  };
  assert.deepEqual(lines(planSync(trees)), [
    'delete y replaced',
    'delete z replaced',
    'conflict x',
    'link z',
    'dir y',
    'dir ',
  ]);
  assert.deepEqual(lines(planSync(trees, { delete: true })), [
    'delete x/inner replaced',
    'delete x replaced',
    'delete y replaced',
    'delete z replaced',
    'send x new',
    'link z',
    'dir y',
    'dir ',
  ]);
});
