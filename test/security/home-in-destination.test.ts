// A recursive download into a directory that holds ferry's own home (`get -r` or `sync HOST/SRC DST` into `~`
// or `~/.config`): the server chooses every name, and the home's files pass their checks when a download
// writes them (the user's own, mode 0644), so a hostile server could plant `allowed-clients.json` (its key
// allowed on this machine's server), replace `known-servers.json` (its keys pinned for other servers) or,
// with `sync --delete`, remove `identity.key`. Now a download leaves out what is listed at or below the home
// and warns. The real CLI against a scripted hostile server on loopback.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { contentsUnder } from '../helpers/tree-snapshot.js';
import { HostileServer, dir, file, link } from './hostile-server.js';

interface Rig {
  dest: string;
  home: string;
  hostile: HostileServer;
  args: (command: string, ...extra: string[]) => string[];
}

/** DST with ferry's home at DST/.config/ferry: a key made, the hostile server pinned by a first `ls`. */
async function startRig(t: TestContext): Promise<Rig> {
  const work = await makeTempDir('ferry-home-in-dest-');
  const hostile = await HostileServer.start();
  t.after(async () => {
    await hostile.close();
    await removeTempDir(work);
  });
  const dest = join(work, 'dest');
  const home = join(dest, '.config', 'ferry');
  await mkdir(home, { recursive: true, mode: 0o700 });
  assert.equal((await runFerry(['--home', home, 'keygen'])).code, 0);
  const { host, port } = hostile.address;
  const args = (command: string, ...extra: string[]): string[] => [
    '--home',
    home,
    command,
    // A get of the client's root lands its entries in DST itself, as a sync of SRC onto DST does.
    command === 'get' ? `${host}:${port}/` : `${host}:${port}/dot`,
    ...(command === 'ls' ? [] : [dest]),
    '--expect',
    hostile.id,
    '--retries',
    '0',
    ...extra,
  ];
  assert.equal((await runFerry(args('ls'))).code, 0);
  return { dest, home, hostile, args };
}

test('`get -r` into a directory holding ferry`s home writes nothing in the home, and says what it left out', async (t) => {
  const rig = await startRig(t);
  const before = await contentsUnder(rig.home);
  rig.hostile.script = {
    entries: [
      dir('.config'),
      dir('.config/ferry'),
      file('.config/ferry/allowed-clients.json'),
      file('.config/ferry/invites.json'),
      link('.config/ferry/known-servers.json', '../../ok.txt'),
      file('ok.txt'),
    ],
  };
  const result = await runFerry([...rig.args('get', '-r'), '--verbose']);
  // Before: allowed-clients.json and invites.json were made in the home with the server's content.
  assert.deepEqual(await contentsUnder(rig.home), before);
  assert.match(await readFile(join(rig.dest, 'ok.txt'), 'utf8'), /planted/);
  assert.match(result.stderr, /allowed-clients\.json.*ferry's home/);
  assert.equal(result.code, 0, result.stderr);
});

test('`sync HOST/SRC DST --delete` into a directory holding ferry`s home neither replaces nor removes its files', async (t) => {
  const rig = await startRig(t);
  const before = await contentsUnder(rig.home);
  // The listing names the pin file (to replace it) and nothing else of the home (for --delete to remove it),
  // and a file where the directory above the home is.
  rig.hostile.script = { entries: [file('.config/ferry/known-servers.json'), file('ok.txt')] };
  await runFerry(rig.args('sync', '--delete'));
  rig.hostile.script = { entries: [file('.config'), file('ok.txt')] };
  await runFerry(rig.args('sync', '--delete'));
  // Before: identity.key was removed and known-servers.json held the server's content.
  assert.deepEqual(await contentsUnder(rig.home), before);
  assert.ok((await readdir(rig.home)).includes('identity.key'));
});

test('`sync HOST/SRC HOME` (the home itself as DST) changes nothing of it, its mode included', async (t) => {
  const rig = await startRig(t);
  const before = await contentsUnder(rig.home);
  const mode = (await stat(rig.home)).mode & 0o777;
  rig.hostile.script = { entries: [file('identity.key'), file('ok.txt')] };
  const { host, port } = rig.hostile.address;
  await runFerry([
    '--home',
    rig.home,
    'sync',
    `${host}:${port}/dot`,
    rig.home,
    '--delete',
    '--expect',
    rig.hostile.id,
    '--retries',
    '0',
  ]);
  assert.deepEqual(await contentsUnder(rig.home), before);
  // The listing says 0755; the home stays as it was (0700).
  assert.equal((await stat(rig.home)).mode & 0o777, mode);
});

test('`get -r` and `sync` leave out the home named in other letters (a case-insensitive destination, macOS`s default, takes them as the home)', async (t) => {
  // On this (case-sensitive) file system the same listing would make a .CONFIG/Ferry/ beside the home, which
  // is left out too; on APFS, vfat or ext4 casefold it is the home.
  const rig = await startRig(t);
  const entries = [
    dir('.CONFIG'),
    dir('.CONFIG/Ferry'),
    file('.CONFIG/Ferry/allowed-clients.json'),
    file('.config/FERRY/invites.json'),
    file('.Config'), // a file where a directory above the home is, in other letters
    file('ok.txt'),
  ];
  for (const command of [
    ['get', '-r'],
    ['sync', '--delete'],
  ]) {
    rig.hostile.script = { entries };
    const result = await runFerry([...rig.args(command[0]!, ...command.slice(1)), '--verbose']);
    // A directory above the home may be made (.CONFIG here), nothing in it, and no file of its name.
    const tree = await contentsUnder(rig.dest);
    const written = Object.keys(tree).filter((p) => /^\.config(\/|$)/i.test(p));
    assert.ok(
      written.every(
        (p) => p.startsWith('.config/') || p === '.config' || (p === '.CONFIG' && tree[p] === 'dir'),
      ),
      `${command.join(' ')}: nothing named like .config/ferry written (${written.join(', ')}): ${result.stderr}`,
    );
    assert.match(result.stderr, /allowed-clients\.json.*ferry's home/, command.join(' '));
  }
});
