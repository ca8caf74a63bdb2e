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

function file(path: string, size: number, mtimeMs: number, mode = 0o644): SyncEntry {
  return { kind: 'file', path, size, mtimeMs, mode };
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
      case 'attributes':
        return `attributes ${a.path} ${a.mode.toString(8)} ${a.mtimeMs}`;
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

test('planSync with checksum sends a same-size same-mtime file whose digest differs, skips an equal one and gives an equal one of another mtime that mtime', () => {
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
    'attributes touched 644 9',
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
  // Nothing of `keep` changes without delete: it is left alone; with delete, its removal moves its mtime.
  assert.deepEqual(lines(planSync(trees)), ['skip keep/a', 'send b new', 'skip keep', 'dir ']);
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

test('planSync never replaces a directory holding excluded entries, even with delete; the rest goes on', () => {
  const trees = {
    source: [file('d', 1, 1), link('e', 'x'), file('f', 1, 1)],
    destination: [dir('d'), file('d/a.txt', 1, 1), dir('e'), dir('f'), file('f/b.txt', 1, 1)],
    top: TOP,
  };
  const actions = planSync(trees, { delete: true, holdingExcluded: new Set(['d', 'e']) });
  const reason = 'a directory holding excluded entries is in the way (--delete keeps them)';
  assert.deepEqual(
    actions.filter((a) => a.action === 'conflict'),
    [
      { action: 'conflict', path: 'd', reason, excluded: true },
      { action: 'conflict', path: 'e', reason, excluded: true },
    ],
  );
  // `d/a.txt` is extra and goes as any other; `f`, holding nothing excluded, is replaced.
  assert.deepEqual(
    actions.filter((a) => a.action === 'delete').map((a) => a.path),
    ['d/a.txt', 'f/b.txt', 'f'],
  );
});

test("planSync says why an excluded directory is in the way of SRC's file: the pattern excludes directories only", () => {
  const trees = {
    source: [file('cache', 1, 1), link('tmp', 'x')],
    destination: [dir('cache'), dir('tmp')],
    top: TOP,
  };
  const conflicts = planSync(trees, { excludedInTheWay: new Set(['cache']) }).filter(
    (a) => a.action === 'conflict',
  );
  const excluded = {
    action: 'conflict',
    path: 'cache',
    reason:
      "an excluded directory is in the way (a pattern ending in / excludes directories only, not SRC's file; --delete keeps it)",
    excluded: true,
  };
  assert.deepEqual(conflicts, [
    excluded,
    { action: 'conflict', path: 'tmp', reason: 'a directory is in the way' },
  ]);
  // --delete replaces the other directory, never the excluded one (a hostile server names a file of its path).
  const withDelete = planSync(trees, { excludedInTheWay: new Set(['cache']), delete: true });
  assert.deepEqual(
    withDelete.filter((a) => a.action === 'conflict'),
    [excluded],
  );
  assert.deepEqual(
    withDelete.filter((a) => a.action === 'delete').map((a) => a.path),
    ['tmp'],
  );
});

test('planSync gives a file of the same content but another mode that mode, without sending it', () => {
  const actions = planSync({
    source: [
      file('chmodded', 10, 1, 0o600),
      file('same', 10, 1, 0o644),
      file('chmodded-and-changed', 10, 2, 0o600),
    ],
    destination: [
      file('chmodded', 10, 1, 0o644),
      file('same', 10, 1, 0o644),
      file('chmodded-and-changed', 10, 1, 0o644),
    ],
    top: TOP,
  });
  // A changed file carries its mode with its content; only an unchanged one needs the attributes alone.
  assert.deepEqual(lines(actions), [
    'attributes chmodded 600 1',
    'skip same',
    'send chmodded-and-changed changed',
    'dir ',
  ]);
  const counts = countSyncActions(actions);
  assert.equal(counts.attributesSet, 1);
  assert.equal(counts.filesSent, 1);
  assert.equal(counts.filesSkipped, 1);
  assert.equal(counts.bytesToSend, 10);
});

test('planSync compares modes as a received file gets them: bits a receiver never gives are no difference', () => {
  const actions = planSync({
    // 0o4777 arrives as 0o755 (no setuid, no write for group or others), so a 0o755 copy is already right;
    // a 0o2755 copy (set by hand on DST) is not, and gets 0o755.
    source: [file('setuid', 1, 1, 0o4777), file('setgid-there', 1, 1, 0o755)],
    destination: [file('setuid', 1, 1, 0o755), file('setgid-there', 1, 1, 0o2755)],
    top: TOP,
  });
  assert.deepEqual(lines(actions), ['skip setuid', 'attributes setgid-there 755 1', 'dir ']);
});

test('planSync without checksum sends a file whose mtime alone differs (the quick check cannot tell), with checksum it sets the mtime and the mode together', () => {
  const trees = {
    source: [file('a', 4, 9, 0o600)],
    destination: [file('a', 4, 1, 0o644)],
    top: TOP,
  };
  assert.deepEqual(lines(planSync(trees)), ['send a changed', 'dir ']);
  assert.deepEqual(lines(planSync(trees, { checksum: true, identical: new Set(['a']) })), [
    'attributes a 600 9',
    'dir ',
  ]);
  // A digest that differs is a change whatever the attributes.
  assert.deepEqual(lines(planSync(trees, { checksum: true, identical: new Set() })), [
    'send a changed',
    'dir ',
  ]);
});

test('planSync leaves a directory alone when DST has its attributes and nothing of the plan changes its entries', () => {
  const source = [
    dir('same'),
    file('same/a', 1, 1),
    dir('grows'),
    file('grows/a', 1, 1),
    file('grows/new', 1, 1),
    dir('chmodded'),
    file('chmodded/a', 1, 1),
    dir('parent'),
    dir('parent/made'),
    dir('touched-file'),
    file('touched-file/a', 1, 9, 0o600),
  ];
  const destination = [
    dir('same'),
    file('same/a', 1, 1),
    dir('grows'),
    file('grows/a', 1, 1),
    { kind: 'dir', path: 'chmodded', mode: 0o700, mtimeMs: 5 } as const,
    file('chmodded/a', 1, 1),
    dir('parent'),
    dir('touched-file'),
    file('touched-file/a', 1, 9, 0o644),
  ];
  // A new file or directory in it moves a directory's mtime; a file's new mode (SET_ATTRIBUTES) does not.
  assert.deepEqual(lines(planSync({ source, destination, top: TOP, destinationTop: TOP })), [
    'skip same/a',
    'skip grows/a',
    'send grows/new new',
    'skip chmodded/a',
    'attributes touched-file/a 600 9',
    'dir parent/made',
    'dir chmodded',
    'dir grows',
    'dir parent',
    'skip same',
    'skip touched-file',
    'skip ',
  ]);
  // The top as any directory: its attributes, and what the plan does right under it.
  const unchanged = { source: [dir('a')], destination: [dir('a')], top: TOP };
  assert.deepEqual(lines(planSync({ ...unchanged, destinationTop: TOP })), ['skip a', 'skip ']);
  assert.deepEqual(lines(planSync(unchanged)), ['skip a', 'dir '], 'DST top unknown');
  assert.deepEqual(lines(planSync({ ...unchanged, destinationTop: { mode: 0o755, mtimeMs: 999 } })), [
    'skip a',
    'dir ',
  ]);
  assert.deepEqual(
    lines(planSync({ ...unchanged, source: [dir('a'), file('b', 1, 1)], destinationTop: TOP })),
    ['send b new', 'skip a', 'dir '],
  );
  assert.deepEqual(lines(planSync({ ...unchanged, source: [], destinationTop: TOP }, { delete: true })), [
    'delete a extra',
    'dir ',
  ]);
  assert.equal(countSyncActions(planSync({ ...unchanged, destinationTop: TOP })).filesSkipped, 0);
});
