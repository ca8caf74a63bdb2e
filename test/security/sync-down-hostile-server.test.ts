// `ferry sync HOST/SRC DST` (the download direction) against a hostile server (hostile-server.ts: a real Noise
// session on loopback with a test key). Its listing and answers must never make the client write or remove
// outside DST, follow a link in DST, remove anything when `delete` was not asked for, or print a raw control
// character to the terminal (docs/SECURITY.md "Malicious server", "Removals", "Terminal output").
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { syncTree } from '../../src/client/index.js';
import { runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { contentsUnder } from '../helpers/tree-snapshot.js';
import { HostileServer, dir, file, link, syncDownFrom } from './hostile-server.js';

interface Rig {
  work: string;
  dest: string;
  outside: string;
  hostile: HostileServer;
}

/**
 * `work/dest` holds keep.txt, d/keep2.txt, f (a file), out -> ../outside (a link to a directory outside DST,
 * holding victim.txt and sub/victim2.txt).
 */
async function startRig(t: TestContext): Promise<Rig> {
  const work = await makeTempDir('ferry-sync-hostile-');
  const hostile = await HostileServer.start();
  t.after(async () => {
    await hostile.close();
    await removeTempDir(work);
  });
  const dest = join(work, 'dest');
  const outside = join(work, 'outside');
  await mkdir(join(dest, 'd'), { recursive: true });
  await mkdir(join(outside, 'sub'), { recursive: true });
  await writeFile(join(dest, 'keep.txt'), 'keep\n');
  await writeFile(join(dest, 'd', 'keep2.txt'), 'keep2\n');
  await writeFile(join(dest, 'f'), 'f\n');
  await symlink('../outside', join(dest, 'out'));
  await writeFile(join(outside, 'victim.txt'), 'victim\n');
  await writeFile(join(outside, 'sub', 'victim2.txt'), 'victim2\n');
  return { work, dest, outside, hostile };
}

function syncDown(rig: Rig, options: { delete: boolean }): Promise<unknown> {
  return syncDownFrom(rig.hostile, rig.dest, { chunkBytes: 64 * 1024, delete: options.delete });
}

/** Listings that omit local entries or clash with their kinds, each valid name by name (PROTOCOL.md §7.1). */
const CLASHING_LISTINGS = [
  { name: 'empty', entries: [] },
  {
    name: 'every local entry of another kind',
    entries: [
      link('keep.txt', 'f'),
      file('d'),
      dir('f'),
      file('f/new.txt'),
      dir('out'),
      file('out/victim.txt'),
      dir('out/sub'),
      file('out/sub/victim2.txt'),
      file('out/planted.txt'),
    ],
  },
  {
    name: 'the link named as a file, a link into it',
    entries: [file('out'), link('via', 'out/sub'), file('via/victim2.txt')],
  },
];

test('sync down without delete: a hostile listing that omits or clashes with every local entry removes nothing and writes nothing outside DST', async (t) => {
  const rig = await startRig(t);
  for (const { name, entries } of CLASHING_LISTINGS) {
    const outsideBefore = await contentsUnder(rig.outside);
    rig.hostile.script = { entries };
    await syncDown(rig, { delete: false });
    assert.deepEqual(await contentsUnder(rig.outside), outsideBefore, `${name}: nothing outside DST changed`);
    const after = await contentsUnder(rig.dest);
    // Nothing the listing lacks, and no directory, is removed without `delete`. (A file the listing names
    // may be replaced, by another kind too, as rsync replaces a non-directory without --delete.)
    assert.equal(after['d/keep2.txt'] !== undefined, true, `${name}: d/keep2.txt kept`);
    assert.equal(after['d'], 'dir', `${name}: d is still a directory`);
    assert.notEqual(after['keep.txt'], undefined, `${name}: keep.txt kept`);
  }
});

test('sync down with delete: a link in DST is removed or replaced as a link, never followed, whatever the listing says is there', async (t) => {
  for (const { name, entries } of CLASHING_LISTINGS) {
    const rig = await startRig(t);
    const outsideBefore = await contentsUnder(rig.outside);
    rig.hostile.script = { entries };
    await syncDown(rig, { delete: true });
    assert.deepEqual(await contentsUnder(rig.outside), outsideBefore, `${name}: nothing outside DST changed`);
    const after = await contentsUnder(rig.dest);
    for (const [path, what] of Object.entries(after)) {
      if (what.startsWith('-> '))
        assert.ok(
          !what.includes('..'),
          `${name}: ${path} ${what} is a link the listing may not leave leading out of DST`,
        );
    }
  }
});

/** Control characters, C1 and bidi controls a hostile server sends in link targets and error details. */
const RAW_UNSAFE = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

function assertNothingRaw(output: string, what: string): void {
  const match = RAW_UNSAFE.exec(output.replace(/\n/g, ''));
  assert.equal(
    match,
    null,
    `${what}: raw U+${match?.[0].codePointAt(0)?.toString(16)} in ${JSON.stringify(output)}`,
  );
}

test('`ferry sync HOST/SRC DST` prints a hostile server`s link targets and error details escaped, with --verbose, --dry-run and --delete', async (t) => {
  const rig = await startRig(t);
  const home = await makeTempDir('ferry-sync-hostile-home-');
  t.after(() => removeTempDir(home));
  assert.equal((await runFerry(['--home', home, 'keygen'])).code, 0);
  const { host, port } = rig.hostile.address;
  const args = [
    '--home',
    home,
    'sync',
    `${host}:${port}/tree`,
    rig.dest,
    '--expect',
    rig.hostile.id,
    '--retries',
    '0',
  ];
  rig.hostile.script = {
    entries: [
      file('a.txt'),
      link('title', 'x\u001b]0;owned\u0007'),
      link('lrm', 'y\u009b2J\u202e'),
      link('outer', '../\u001b[2J'),
    ],
    getError: { code: 'PERMISSION_DENIED', detail: 'no\u001b[2J\u001b[Hall files verified\u0085' },
  };
  for (const extra of [
    ['--dry-run', '--verbose'],
    ['--verbose'],
    ['--delete', '--verbose'],
    ['--delete', '--json'],
  ]) {
    const before = await contentsUnder(rig.outside);
    const result = await runFerry([...args, ...extra]);
    assertNothingRaw(result.stdout, `${extra.join(' ')} stdout`);
    assertNothingRaw(result.stderr, `${extra.join(' ')} stderr`);
    assert.deepEqual(await contentsUnder(rig.outside), before);
  }
});

test('sync up with delete against a hostile listing: escaping or invalid names are refused before any request, and nothing local is touched', async (t) => {
  const rig = await startRig(t);
  const source = join(rig.work, 'src');
  await mkdir(join(source, 'kept'), { recursive: true });
  await writeFile(join(source, 'kept', 'k.txt'), 'k\n');
  await chmod(join(source, 'kept', 'k.txt'), 0o644);
  await utimes(join(source, 'kept', 'k.txt'), 1_700_000_000, 1_700_000_000);
  const sync = (): Promise<unknown> =>
    syncTree({
      server: rig.hostile.address,
      identity: generateKeyPair(),
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
      direction: 'upload',
      localDir: source,
      remotePath: 'tree',
      chunkBytes: 64 * 1024,
      delete: true,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
  for (const path of ['../x', '/etc/passwd', 'a/../../x', 'esc\u001b[2J', 'a//b']) {
    const before = await contentsUnder(rig.work);
    const sent = rig.hostile.received.length;
    rig.hostile.script = { entries: [file('extra.txt'), file(path)] };
    const err = await sync();
    assert.equal((err as { code?: string } | undefined)?.code, 'PATH_INVALID', JSON.stringify(path));
    assert.deepEqual(await contentsUnder(rig.work), before, `${JSON.stringify(path)}: nothing local changed`);
    const asked = rig.hostile.received.slice(sent).filter((m) => m.type !== 'LIST_REQUEST');
    assert.deepEqual(asked, [], `${JSON.stringify(path)}: no request after the bad listing`);
  }
  // A valid listing: its extra entries are removed on the server only, by requests naming them under DST.
  const before = await contentsUnder(source);
  const sent = rig.hostile.received.length;
  // SRC's own file listed as it is, so nothing is sent (this server takes no upload).
  rig.hostile.script = {
    entries: [dir('kept'), file('kept/k.txt', 2), dir('gone'), file('gone/x.txt'), file('extra.txt')],
  };
  const result = await sync();
  assert.equal(result, undefined);
  assert.deepEqual(await contentsUnder(source), before, 'nothing local changed');
  const removed = rig.hostile.received
    .slice(sent)
    .flatMap((m) => (m.type === 'REMOVE_REQUEST' ? [m.path] : []))
    .sort();
  assert.deepEqual(removed, ['tree/extra.txt', 'tree/gone', 'tree/gone/x.txt']);
});
