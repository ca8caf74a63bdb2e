// `ferry sync HOST/SRC DST --exclude PATTERN` against a hostile server (hostile-server.ts: a real Noise session
// on loopback). The patterns protect what they match in DST: the server's listing must not get a file written
// into an excluded directory by leaving that directory out of the listing or naming it as another kind (its
// entries' ancestors are directories whatever it says), nor, with --delete, have it removed by naming a file or
// a link of its path (a directory-only pattern leaves SRC's entry in), and a deep listing must not cost the client more than
// reading it does (docs/SECURITY.md "Malicious server", stop 35).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { aliasesOfExcluded } from '../../src/client/excluded-aliases.js';
import { ExcludePatterns } from '../../src/client/sync-exclude.js';
import { remoteListingEntries } from '../../src/client/sync-entries.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { contentsUnder } from '../helpers/tree-snapshot.js';
import { HostileServer, dir, file, link, syncDownFrom } from './hostile-server.js';

async function startRig(t: TestContext): Promise<{ dest: string; hostile: HostileServer }> {
  const work = await makeTempDir('ferry-sync-exclude-hostile-');
  const hostile = await HostileServer.start();
  t.after(async () => {
    await hostile.close();
    await removeTempDir(work);
  });
  const dest = join(work, 'dest');
  await mkdir(join(dest, 'secrets', 'deep'), { recursive: true });
  await writeFile(join(dest, 'secrets', 'key.txt'), 'mine\n');
  await writeFile(join(dest, 'secrets', 'deep', 'key2.txt'), 'mine too\n');
  return { dest, hostile };
}

/** Listings that reach into `secrets/` without naming it as the directory it is. */
const LISTINGS = [
  { name: 'the parent left out', entries: [file('secrets/key.txt'), file('secrets/deep/key2.txt')] },
  {
    name: 'the parent named a file',
    entries: [file('secrets'), file('secrets/key.txt'), file('secrets/deep/key2.txt')],
  },
  {
    name: 'the parent named a link',
    entries: [
      link('secrets', 'x'),
      file('secrets/key.txt'),
      dir('secrets/deep'),
      file('secrets/deep/key2.txt'),
    ],
  },
  { name: 'only the deeper directory named', entries: [dir('secrets/deep'), file('secrets/deep/key2.txt')] },
  // Nothing below it: a file of the excluded directory's name, which `secrets/` (directories only) does not
  // exclude on SRC's side. It may meet the directory as a conflict; with --delete it must not remove it
  // (stop 36: s36/ux replaced it, with what it holds, as rsync makes way).
  { name: 'a file of its name alone', entries: [file('secrets'), file('other.txt')] },
  { name: 'a link of its name alone', entries: [link('secrets', 'other.txt'), file('other.txt')] },
];

for (const pattern of ['secrets/', 'secrets', '/secrets', '/secrets/']) {
  test(`sync down --exclude ${pattern}: a listing that reaches into the excluded directory writes and removes nothing there`, async (t) => {
    for (const del of [false, true]) {
      for (const { name, entries } of LISTINGS) {
        const rig = await startRig(t);
        rig.hostile.script = { entries };
        await syncDownFrom(rig.hostile, rig.dest, { exclude: [pattern], delete: del });
        const after = await contentsUnder(rig.dest);
        assert.equal(after['secrets'], 'dir', `${name}, delete ${del}: secrets is still a directory`);
        assert.equal(
          await readFile(join(rig.dest, 'secrets', 'key.txt'), 'utf8'),
          'mine\n',
          `${name}, delete ${del}: secrets/key.txt untouched`,
        );
        assert.equal(
          await readFile(join(rig.dest, 'secrets', 'deep', 'key2.txt'), 'utf8'),
          'mine too\n',
          `${name}, delete ${del}: secrets/deep/key2.txt untouched`,
        );
        assert.deepEqual(
          rig.hostile.requestedPaths.filter((p) => p.startsWith('tree/secrets/')),
          [],
          `${name}, delete ${del}: nothing below secrets/ asked for`,
        );
      }
    }
  });
}

test('sync down --exclude secrets/: a listing naming it in other letters has nothing written there (a case-insensitive DST is that directory)', async (t) => {
  // On vfat, exFAT, CIFS, ext4 casefold or macOS, SECRETS/key.txt is opened as secrets/key.txt; on this
  // (case-sensitive) file system the same listing would make a SECRETS/ beside it, which is left out too.
  for (const del of [false, true]) {
    const rig = await startRig(t);
    const events: Array<{ type: string; path?: string }> = [];
    rig.hostile.script = {
      entries: [
        dir('SECRETS'),
        file('SECRETS/key.txt'),
        file('Secrets/deep/key2.txt'),
        file('secre\u0074s\u212a/x'), // not an alias: another name (the Kelvin sign folds to k)
        file('other.txt'),
      ],
    };
    await syncDownFrom(rig.hostile, rig.dest, {
      exclude: ['secrets/'],
      delete: del,
      onEvent: (e) => events.push(e),
    });
    const after = await contentsUnder(rig.dest);
    assert.deepEqual(
      Object.keys(after).filter((p) => /^secrets/i.test(p) && p !== 'secrets' && !p.startsWith('secrets/')),
      ['secrets\u212a', 'secrets\u212a/x'],
      `delete ${del}: only the name that is not the excluded one's in other letters is written`,
    );
    assert.ok(
      after['other.txt'] !== undefined && after['other.txt'] !== 'dir',
      `delete ${del}: the rest is synced`,
    );
    assert.equal(await readFile(join(rig.dest, 'secrets', 'key.txt'), 'utf8'), 'mine\n');
    assert.deepEqual(
      rig.hostile.requestedPaths.filter((p) => /^tree\/secrets\//i.test(p)),
      [],
      `delete ${del}: nothing named like secrets/ asked for`,
    );
    const skipped = events.filter((e) => e.type === 'entry-skipped').map((e) => e.path);
    assert.deepEqual(
      skipped.sort(),
      ['SECRETS', 'Secrets/deep/key2.txt'],
      `delete ${del}: each top said once`,
    );
  }
});

test('aliasesOfExcluded: other case, the other Unicode normalization and compatibility forms are the excluded entry; other names are not', () => {
  const tops = [{ path: 'café' }, { path: 'a/kit' }, { path: 'files' }];
  const listed = [
    'CAFE\u0301/x',
    'Café',
    'a/\u212Ait',
    'a/KIT/y',
    '\uFB01les/z',
    'cafe/x',
    'a/kits',
    'kit',
    'café',
  ];
  assert.deepEqual(
    aliasesOfExcluded(
      tops,
      listed.map((path) => ({ path })),
    ).map((e) => e.path),
    ['CAFE\u0301/x', 'Café', 'a/\u212Ait', 'a/KIT/y', '\uFB01les/z'],
  );
});

test('a deep hostile listing with an excluded directory in it costs the client no more than reading the listing', () => {
  // Paths of MAX_PATH_BYTES, 2000 components deep: 128 MiB of listing holds some 30000 of them. Checking
  // each entry's ancestors one by one (a Set lookup per ancestor hashes its whole prefix) cost ~6 ms an
  // entry, 30x what reading the listing costs, ~3 CPU minutes for one listing.
  const deep = Array.from({ length: 2000 }, () => 'a').join('/');
  const listed = [dir('node_modules'), ...Array.from({ length: 400 }, (_, i) => file(`${deep}/${i}`, 1))];
  const cpu = (work: () => unknown): number => {
    const before = process.cpuUsage();
    work();
    const used = process.cpuUsage(before);
    return used.user + used.system;
  };
  const listing = { entries: listed, isFile: false, mode: 0o755, mtimeMs: 0 };
  const entries = remoteListingEntries(listing, 'tree', { dropOutsideLinks: true });
  const excluded = new ExcludePatterns(['node_modules/', '/build/**', 'docs/*.tmp']);
  // The same process, measured side by side: a ratio, not a time (the machine's load moves both alike).
  let reading = 0;
  let filtering = 0;
  for (let round = 0; round < 3; round++) {
    reading += cpu(() => remoteListingEntries(listing, 'tree', { dropOutsideLinks: true }));
    filtering += cpu(() => excluded.filter(entries));
  }
  assert.equal(excluded.filter(entries).length, 400);
  assert.ok(
    filtering < 5 * reading,
    `filtering took ${filtering / 1000} ms of CPU, reading the listing ${reading / 1000} ms`,
  );
});

test('aliasesOfExcluded costs about what reading the listing does, however deep and many DST`s excluded entries are', () => {
  // DST's excluded files (`--exclude '*.o'`) beside every listed file, 64 directories deep: comparing each
  // folded prefix whole (a Set of prefixes) cost the square of the depth per entry, ~8x reading the listing (now ~1.4x).
  const deep = Array.from({ length: 64 }, (_, i) => `d${i}`).join('/');
  const tops = Array.from({ length: 3000 }, (_, i) => ({ path: `${deep}/f${i}.o` }));
  const listing = {
    entries: Array.from({ length: 3000 }, (_, i) => file(`${deep}/f${i}.c`, 1)),
    isFile: false,
    mode: 0o755,
    mtimeMs: 0,
  };
  const entries = remoteListingEntries(listing, 'tree', { dropOutsideLinks: true });
  const cpu = (work: () => unknown): number => {
    const before = process.cpuUsage();
    work();
    const used = process.cpuUsage(before);
    return used.user + used.system;
  };
  let reading = 0;
  let comparing = 0;
  for (let round = 0; round < 3; round++) {
    reading += cpu(() => remoteListingEntries(listing, 'tree', { dropOutsideLinks: true }));
    comparing += cpu(() => assert.deepEqual(aliasesOfExcluded(tops, entries), []));
  }
  assert.ok(
    comparing < 5 * reading,
    `comparing took ${comparing / 1000} ms of CPU, reading the listing ${reading / 1000} ms`,
  );
});
