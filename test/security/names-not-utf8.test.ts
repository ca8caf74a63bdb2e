// Stop 42 security pass: a name that is not UTF-8 on either side's disk (Linux names are bytes; anyone who may
// write into a tree can make one: `touch $'b\xfe.txt'`). Node's string names replace such bytes with U+FFFD,
// a name that opens another file or none, so one such name failed every `send -r`, `sync` up and `sync` down
// of its tree with PATH_NOT_FOUND, nothing sent, and a server listed a twin named with a real U+FFFD twice.
// Now every walk reads names as bytes and leaves such a name out (src/transfer/directory-names.ts): a sender
// says so and counts it as not sent, as a name with a control character; a listing and a destination's walk
// skip it, so `sync --delete` never touches it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, EXIT_CODES } from '../../src/errors/index.js';
import { assertExit, type CliResult } from '../helpers/cli.js';
import { rigFerry, startAdmittedServeInTempDir, type AdmittedCliInTempDir } from '../helpers/admitted-cli.js';
import { notUtf8Name } from '../helpers/not-utf8-name.js';

const PARTIAL_EXIT = EXIT_CODES[ERROR_CODES.PATH_INVALID.category];

/**
 * What `sync --delete` meets in `base`, whose SRC holds `kept/k\uFFFD.txt` ('new twin') alone: `gone/`, which
 * SRC lacks, holding names that are not UTF-8 (a file, a directory with a file, a link to `outside`, a
 * directory outside the root holding `victim.txt`) beside `a.txt` and a U+FFFD twin; `kept/`, which stays,
 * holding `k\xfe.txt` ('mine') beside its twin ('old twin').
 */
async function fillDoomed(base: string, outside: string): Promise<void> {
  await mkdir(join(base, 'gone'), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(join(outside, 'victim.txt'), 'victim');
  await writeFile(join(base, 'gone', 'a.txt'), 'a');
  await writeFile(notUtf8Name(join(base, 'gone'), 'b', '.txt'), 'bytes');
  await writeFile(join(base, 'gone', 'b\uFFFD.txt'), 'twin');
  await mkdir(notUtf8Name(join(base, 'gone'), 'z'));
  await writeFile(Buffer.concat([notUtf8Name(join(base, 'gone'), 'z'), Buffer.from('/inner.txt')]), 'inner');
  await symlink(outside, notUtf8Name(join(base, 'gone'), 'l'));
  await mkdir(join(base, 'kept'));
  await writeFile(notUtf8Name(join(base, 'kept'), 'k', '.txt'), 'mine');
  await writeFile(join(base, 'kept', 'k\uFFFD.txt'), 'old twin');
}

/** Checks `base` after `sync --delete` from SRC (see {@link fillDoomed}) and `outside` untouched. */
async function assertDoomedGone(base: string, outside: string): Promise<void> {
  assert.deepEqual(await readdir(base), ['kept']);
  assert.equal(await readFile(notUtf8Name(join(base, 'kept'), 'k', '.txt'), 'utf8'), 'mine');
  assert.equal(await readFile(join(base, 'kept', 'k\uFFFD.txt'), 'utf8'), 'new twin');
  assert.deepEqual(await readdir(outside), ['victim.txt']);
  assert.equal(await readFile(join(outside, 'victim.txt'), 'utf8'), 'victim');
}

/** `base/gone/` holding `a.txt` and `x\xfe.key`, a name `--exclude '*.key'` would match were it UTF-8. */
async function fillKeyed(base: string): Promise<void> {
  await mkdir(join(base, 'gone'), { recursive: true });
  await writeFile(join(base, 'gone', 'a.txt'), 'a');
  await writeFile(notUtf8Name(join(base, 'gone'), 'x', '.key'), 'key');
}

/** The line of a sync that kept `gone/` for its names that are not UTF-8 while an exclude was in effect. */
const KEPT_FOR_EXCLUDE =
  /^ferry: skipped gone: not removed: .*directory is not empty: names that are not UTF-8 are kept while an exclude is in effect$/m;

describe('names that are not UTF-8 are left out, and the rest of the tree goes', () => {
  let rig: AdmittedCliInTempDir;
  let dir: string;
  let root: string;

  function ferry(...args: string[]): Promise<CliResult> {
    return rigFerry(rig, ...args);
  }

  before(async () => {
    rig = await startAdmittedServeInTempDir(
      'ferry-sec-not-utf8-',
      async (serverRoot) => {
        await mkdir(join(serverRoot, 'served'));
        await writeFile(join(serverRoot, 'served', 'good.txt'), 'good');
        // A twin: the name that is not UTF-8 reads as `tw\uFFFD`, the other is spelt so.
        await writeFile(notUtf8Name(join(serverRoot, 'served'), 'tw'), 'bytes');
        await writeFile(join(serverRoot, 'served', 'tw\uFFFD'), 'twin');
        await mkdir(join(serverRoot, 'links'));
        await symlink(notUtf8Name('.', 'tw').subarray(2), join(serverRoot, 'links', 'ln'));
        await fillDoomed(join(serverRoot, 'mirrored'), join(serverRoot, '..', 'outside'));
      },
      ['--log-level', 'warn'],
    );
    ({ dir, root } = rig);
  });

  after(() => rig.close());

  test('send -r and sync up send the other files and name the one left out', async () => {
    const tree = join(dir, 'tree');
    await mkdir(tree);
    await writeFile(join(tree, 'ok.txt'), 'ok');
    await writeFile(notUtf8Name(tree, 'b', '.txt'), 'bad');
    const sent = await ferry('send', '-r', 'tree', `${rig.server.address}/up`, '--mkdir');
    // Before: `ferry: PATH_NOT_FOUND: no such file or directory: tree/b\uFFFD.txt`, exit 7, nothing sent.
    assertExit(sent, PARTIAL_EXIT, 'send -r with a name that is not UTF-8');
    assert.match(sent.stderr, /^ferry: skipped tree\/b\uFFFD\.txt: name cannot be sent: is not UTF-8$/m);
    assert.match(sent.stderr, /; 1 of 2 files not sent\n$/);
    assert.deepEqual(await readdir(join(root, 'up')), ['ok.txt']);
    const synced = await ferry('sync', 'tree', `${rig.server.address}/mirror`);
    assertExit(synced, PARTIAL_EXIT, 'sync with a name that is not UTF-8');
    assert.deepEqual(await readdir(join(root, 'mirror')), ['ok.txt']);
  });

  test('a listing names the twin once, and get -r fetches it', async () => {
    const listed = await ferry('ls', `${rig.server.address}/served`);
    assertExit(listed, 0, 'ls');
    // Before: `tw\uFFFD` twice, both lstat'ed through the twin's name.
    assert.equal(
      listed.stdout.split('\n').filter((line) => line.endsWith(' tw\uFFFD')).length,
      1,
      listed.stdout,
    );
    const got = await ferry('get', '-r', `${rig.server.address}/served`, join(dir, 'got'));
    assertExit(got, 0, 'get -r');
    // `got` did not exist: the tree is stored under that name, as scp -r does.
    assert.deepEqual((await readdir(join(dir, 'got'))).sort(), ['good.txt', 'tw\uFFFD']);
    assert.equal(await readFile(join(dir, 'got', 'tw\uFFFD'), 'utf8'), 'twin');
  });

  test('sync --delete down leaves a destination entry that is not UTF-8 alone', async () => {
    const dst = join(dir, 'dst');
    await mkdir(dst);
    await mkdir(notUtf8Name(dst, 'z'));
    await writeFile(Buffer.concat([notUtf8Name(dst, 'z'), Buffer.from('/kept')]), 'mine');
    const synced = await ferry('sync', '--delete', `${rig.server.address}/served`, dst);
    // Before: `ferry: PATH_NOT_FOUND: no such file or directory: .../dst/z\uFFFD`, exit 7.
    assertExit(synced, 0, 'sync --delete down');
    assert.equal(
      await readFile(Buffer.concat([notUtf8Name(dst, 'z'), Buffer.from('/kept')]), 'utf8'),
      'mine',
    );
    assert.deepEqual((await readdir(dst)).sort(), ['good.txt', 'tw\uFFFD', 'z\uFFFD']);
  });

  test('a link whose target is not UTF-8 is neither sent nor listed with its twin target', async () => {
    const tree = join(dir, 'linked');
    await mkdir(tree);
    await writeFile(join(tree, 'ok.txt'), 'ok');
    await writeFile(join(tree, 'tw\uFFFD'), 'twin');
    await symlink(notUtf8Name('.', 'tw').subarray(2), join(tree, 'ln'));
    const sent = await ferry('send', '-r', 'linked', `${rig.server.address}/linked`, '--mkdir');
    assertExit(sent, PARTIAL_EXIT, 'send -r with a link target that is not UTF-8');
    // Before: sent as a link to `tw\uFFFD`, the twin, a target the user's link never named.
    assert.match(
      sent.stderr,
      /^ferry: skipped linked\/ln: name cannot be sent: its link target is not UTF-8$/m,
    );
    assert.deepEqual((await readdir(join(root, 'linked'))).sort(), ['ok.txt', 'tw\uFFFD']);
    const listed = await ferry('ls', '--json', `${rig.server.address}/links`);
    assertExit(listed, 0, 'ls --json');
    // Before: `tw\uFFFD`, which a get -r then made as the link's target.
    assert.deepEqual(
      listed.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { linkTarget: string }).linkTarget),
      ['?'],
    );
    assert.ok((await lstat(join(root, 'links', 'ln'))).isSymbolicLink());
  });

  describe('a directory sync --delete removes goes with its names that are not UTF-8, by their bytes', () => {
    let src: string;

    before(async () => {
      src = join(dir, 'doomed-src');
      await mkdir(join(src, 'kept'), { recursive: true });
      await writeFile(join(src, 'kept', 'k\uFFFD.txt'), 'new twin');
    });

    test('up: the server removes them under its root', async () => {
      const synced = await ferry('sync', '--delete', 'doomed-src', `${rig.server.address}/mirrored`);
      // Before: `ferry: skipped gone: not removed: directory is not empty`, exit 7, `gone` kept.
      assertExit(synced, 0, 'sync --delete up');
      await assertDoomedGone(join(root, 'mirrored'), join(dir, 'outside'));
    });

    test('down: this machine removes them under DST', async () => {
      const dst = join(dir, 'doomed-dst');
      const outside = join(dir, 'outside-down');
      await fillDoomed(dst, outside);
      const sent = await ferry('send', '-r', 'doomed-src', `${rig.server.address}/doomed`, '--mkdir');
      assertExit(sent, 0, 'send -r the source');
      const synced = await ferry('sync', '--delete', `${rig.server.address}/doomed`, dst);
      // Before: as up, exit 7 and `gone` kept with its names that are not UTF-8.
      assertExit(synced, 0, 'sync --delete down');
      await assertDoomedGone(dst, outside);
    });
  });

  // An exclude pattern is UTF-8 and never matches such a name, so while one is in effect nothing can tell an
  // excluded one (which --delete keeps, as rsync does without --delete-excluded) from the rest: they stay.
  describe('while an exclude is in effect, sync --delete keeps names that are not UTF-8 and their directory', () => {
    before(() => mkdir(join(dir, 'keyed-src')));

    test('up: the server is not asked to remove them (REMOVE_REQUEST without NOT_UTF8)', async () => {
      const dst = join(root, 'keyed');
      await fillKeyed(dst);
      const target = `${rig.server.address}/keyed`;
      const kept = await ferry('sync', '--delete', '--exclude', '*.key', 'keyed-src', target);
      // Before: exit 0, `gone/x\xfe.key` removed with `gone`, though `*.key` is excluded.
      assertExit(kept, PARTIAL_EXIT, 'sync --delete --exclude up');
      assert.match(kept.stderr, KEPT_FOR_EXCLUDE);
      assert.deepEqual(await readdir(join(dst, 'gone')), ['x\uFFFD.key']);
      const removed = await ferry('sync', '--delete', 'keyed-src', target);
      assertExit(removed, 0, 'sync --delete up');
      assert.deepEqual(await readdir(dst), []);
    });

    test('down: this machine does not remove them', async () => {
      const dst = join(dir, 'keyed-dst');
      await fillKeyed(dst);
      const sent = await ferry('send', '-r', 'keyed-src', `${rig.server.address}/keyed-down`, '--mkdir');
      assertExit(sent, 0, 'send -r the source');
      const source = `${rig.server.address}/keyed-down`;
      const kept = await ferry('sync', '--delete', '--exclude', '*.key', source, dst);
      // Before: exit 0, `gone/x\xfe.key` removed with `gone`, though `*.key` is excluded.
      assertExit(kept, PARTIAL_EXIT, 'sync --delete --exclude down');
      assert.match(kept.stderr, KEPT_FOR_EXCLUDE);
      assert.deepEqual(await readdir(join(dst, 'gone')), ['x\uFFFD.key']);
      const removed = await ferry('sync', '--delete', source, dst);
      assertExit(removed, 0, 'sync --delete down');
      assert.deepEqual(await readdir(dst), []);
    });
  });
});
