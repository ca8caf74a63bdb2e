// `ferry get -r --exclude` and `ferry sync HOST/SRC DST --exclude` onto a case-insensitive destination against a
// hostile server (hostile-server.ts: a real Noise session on loopback) that lists DST's excluded entries in
// other letters: on vfat, exFAT, CIFS, ext4 casefold or macOS, `SECRETS/new.txt` is written into the user's
// excluded `secrets/` and `ID.KEY` over the excluded `id.key`. Both leave out a listed entry that names one of
// DST's excluded entries, of any kind, in other letters (excluded-aliases.ts: one policy; docs/SECURITY.md,
// stop 38). The real CLI on a real case-insensitive file system (lower-case-fs.ts, FUSE), and the library's
// get on this one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { excludedOnTheWay } from '../../src/client/excluded-on-the-way.js';
import { getFiles } from '../../src/client/index.js';
import { ExcludePatterns } from '../../src/client/sync-exclude.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { runFerry } from '../helpers/cli.js';
import { mountLowerCaseFs } from '../helpers/lower-case-fs.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { HostileServer, dir, file, startHostileRig } from './hostile-server.js';

/** DST's protected entries: an excluded directory with a file in it, an excluded file. */
async function plantProtected(dest: string): Promise<void> {
  await mkdir(join(dest, 'secrets'), { recursive: true });
  await writeFile(join(dest, 'secrets', 'key.txt'), 'mine\n');
  await writeFile(join(dest, 'id.key'), 'mine too\n');
}

/** A listing that names both in other letters, and one entry of its own. */
const HOSTILE_ENTRIES = [
  dir('SECRETS'),
  file('SECRETS/key.txt'),
  file('Secrets/new.txt'),
  file('ID.KEY'),
  file('other.txt'),
];

const PATTERNS = ['--exclude', 'secrets/', '--exclude', '*.key'];

test('get -r and sync --exclude onto a case-insensitive file system write nothing into what the patterns exclude there', async (t) => {
  const mount = await mountLowerCaseFs(t);
  const rig = await startHostileRig(t, 'ferry-exclude-other-letters-');
  for (const [command, source, ...flags] of [
    ['get', `${rig.target}/`, '-r', '--overwrite'],
    ['sync', `${rig.target}/tree`],
  ] as const) {
    const dest = join(mount, command);
    await plantProtected(dest);
    rig.hostile.script = { entries: HOSTILE_ENTRIES };
    const result = await runFerry([command, source, dest, ...flags, ...PATTERNS, ...rig.common, '--verbose']);
    const what = [command, ...flags].join(' ');
    // Before: get -r put new.txt in secrets/ and replaced key.txt and id.key; sync replaced id.key.
    assert.deepEqual(await readdir(join(dest, 'secrets')), ['key.txt'], `${what}: ${result.stderr}`);
    assert.equal(await readFile(join(dest, 'secrets', 'key.txt'), 'utf8'), 'mine\n', what);
    assert.equal(await readFile(join(dest, 'id.key'), 'utf8'), 'mine too\n', what);
    assert.equal(result.code, 0, `${what}: ${result.stderr}`);
    assert.match(await readFile(join(dest, 'other.txt'), 'utf8'), /planted/, what);
    assert.match(result.stderr, /SECRETS.*in other letters/, what);
    assert.equal(result.code, 0, `${what}: ${result.stderr}`);
  }
});

test('getFiles -r with exclude patterns leaves out what names an excluded entry of DST in other letters, and only that', async (t) => {
  const work = await makeTempDir('ferry-get-exclude-letters-');
  const hostile = await HostileServer.start();
  t.after(async () => {
    await hostile.close();
    await removeTempDir(work);
  });
  const dest = join(work, 'dest');
  await plantProtected(join(dest, 'tree'));
  // Deeper, under a directory named in other letters too; and a name of the excluded kind nobody has locally.
  await mkdir(join(dest, 'tree', 'docs', 'secrets'), { recursive: true });
  hostile.script = {
    entries: [...HOSTILE_ENTRIES, file('DOCS/SECRETS/x'), file('docs/readme'), file('NEW.KEY')],
  };
  const skipped: string[] = [];
  await getFiles({
    server: hostile.address,
    identity: generateKeyPair(),
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    remotePaths: ['tree'],
    localDir: dest,
    recursive: true,
    exclude: ['secrets/', '*.key'],
    onEvent: (e) => {
      if (e.type === 'entry-skipped') skipped.push(e.path);
    },
  });
  // Before: all of them asked for (on this case-sensitive file system, made beside the excluded entries).
  assert.deepEqual(asked(hostile), ['tree/NEW.KEY', 'tree/docs/readme', 'tree/other.txt']);
  assert.deepEqual(skipped.sort(), [
    'tree/DOCS/SECRETS/x',
    'tree/ID.KEY',
    'tree/SECRETS',
    'tree/Secrets/new.txt',
  ]);
  assert.equal(await readFile(join(dest, 'tree', 'secrets', 'key.txt'), 'utf8'), 'mine\n');
  assert.equal(await readFile(join(dest, 'tree', 'id.key'), 'utf8'), 'mine too\n');
});

/** Every remote path the client asked for, one by one (GET_REQUEST) or batched (GET_BATCH). */
function asked(hostile: HostileServer): string[] {
  return hostile.received
    .flatMap((m) => (m.type === 'GET_BATCH' ? m.paths : m.type === 'GET_REQUEST' ? [m.path] : []))
    .sort();
}

test('excludedOnTheWay folds each listed name once, however many local directories share its letters', async (t) => {
  // A DST holding a/ and A/ at each of 8 levels (a case-sensitive DST; a hostile server's earlier download can
  // make them), and 10000 listed entries 8 deep: visited one local directory at a time, the listing's names
  // were folded again for each of the 510 directories (~4x the cost of the walk itself here).
  const top = await makeTempDir('ferry-exclude-letters-cost-');
  t.after(() => removeTempDir(top));
  const DEPTH = 8;
  const make = async (dir: string, depth: number): Promise<void> => {
    if (depth === 0) return;
    for (const name of ['a', 'A']) {
      await mkdir(join(dir, name));
      await make(join(dir, name), depth - 1);
    }
  };
  await make(top, DEPTH);
  const chain = Array.from({ length: DEPTH }, () => 'a').join('/');
  const excluded = new ExcludePatterns(['secrets/']);
  const cpu = async (entries: number): Promise<number> => {
    const listed = Array.from({ length: entries }, (_, i) => ({ path: `${chain}/f${i}` }));
    const before = process.cpuUsage();
    assert.deepEqual(await excludedOnTheWay(top, excluded, listed), []);
    const used = process.cpuUsage(before);
    return used.user + used.system;
  };
  // Side by side, twice each: a ratio, not a time (the machine's load moves both alike).
  let walk = 0;
  let listing = 0;
  for (let round = 0; round < 2; round++) {
    walk += await cpu(1);
    listing += await cpu(10_000);
  }
  assert.ok(listing < 3 * walk, `10000 entries took ${listing / 1000} ms of CPU, 1 entry ${walk / 1000} ms`);
});
