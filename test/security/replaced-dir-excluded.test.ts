// Stop 42 security pass: `sync --delete` replaces a directory of DST by SRC's file or link of that path
// (sync down: clearForReplacement here; sync up: the server's REPLACE_DIR) with all it holds, so an entry
// an exclude pattern protects went with it: `--exclude '*.key'`, DST's `d/x.key`, SRC's file `d`: exit 0
// and `d/x.key` gone. rsync's making way honours its filters and then fails ("cannot delete non-empty
// directory"). Now such a directory is the plan's conflict, either way: kept, said, the rest goes on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, EXIT_CODES } from '../../src/errors/index.js';
import { assertExit, type CliResult } from '../helpers/cli.js';
import { rigFerry, startAdmittedServeInTempDir, type AdmittedCliInTempDir } from '../helpers/admitted-cli.js';
import { notUtf8Name } from '../helpers/not-utf8-name.js';

/** SRC: a file `d` and `other.txt`. */
async function fillSource(base: string): Promise<void> {
  await mkdir(base, { recursive: true });
  await writeFile(join(base, 'd'), 'file d');
  await writeFile(join(base, 'other.txt'), 'other');
}

/** DST: a directory `d` holding `x.key` (excluded by `*.key`) and `a.txt`. */
async function fillDestination(base: string): Promise<void> {
  await mkdir(join(base, 'd'), { recursive: true });
  await writeFile(join(base, 'd', 'x.key'), 'secret');
  await writeFile(join(base, 'd', 'a.txt'), 'a');
}

const PARTIAL_EXIT = EXIT_CODES[ERROR_CODES.PATH_INVALID.category];
const CONFLICT_EXIT = EXIT_CODES[ERROR_CODES.SYNC_CONFLICT.category];
const CONFLICT = /^conflict d: a directory holding excluded entries is in the way \(--delete keeps them\)$/m;

describe('sync --delete keeps a directory holding excluded entries in the way of a file', () => {
  let rig: AdmittedCliInTempDir;
  const ferry = (...args: string[]): Promise<CliResult> => rigFerry(rig, ...args);

  before(async () => {
    rig = await startAdmittedServeInTempDir('ferry-sec-replaced-excluded-', async (serverRoot) => {
      await fillSource(join(serverRoot, 'src'));
      await fillDestination(join(serverRoot, 'up'));
    });
    await fillSource(join(rig.dir, 'src'));
    await fillDestination(join(rig.dir, 'down'));
  });

  after(() => rig.close());

  async function assertKept(base: string, result: CliResult, what: string): Promise<void> {
    // Before: exit 0, `d` a file and `d/x.key` gone.
    assertExit(result, CONFLICT_EXIT, what);
    assert.match(result.stderr, CONFLICT);
    // The last line says why --delete did not place it, not that --delete would.
    assert.match(
      result.stderr,
      /SYNC_CONFLICT: .*: 1 entry not placed \(its directory holds excluded entries, which --delete keeps\)$/m,
    );
    assert.doesNotMatch(result.stderr, /--delete replaces/);
    assert.deepEqual(await readdir(join(base, 'd')), ['x.key']);
    assert.equal(await readFile(join(base, 'd', 'x.key'), 'utf8'), 'secret');
    assert.equal(await readFile(join(base, 'other.txt'), 'utf8'), 'other');
  }

  test('up: the server is not asked to replace it', async () => {
    const target = `${rig.server.address}/up`;
    const kept = await ferry('sync', '--delete', '--exclude', '*.key', 'src', target);
    await assertKept(join(rig.root, 'up'), kept, 'sync --delete --exclude up');
    const replaced = await ferry('sync', '--delete', 'src', target);
    assertExit(replaced, 0, 'sync --delete up');
    assert.equal(await readFile(join(rig.root, 'up', 'd'), 'utf8'), 'file d');
  });

  test('down: this machine does not replace it', async () => {
    const source = `${rig.server.address}/src`;
    const kept = await ferry('sync', '--delete', '--exclude', '*.key', source, 'down');
    await assertKept(join(rig.dir, 'down'), kept, 'sync --delete --exclude down');
    const replaced = await ferry('sync', '--delete', source, 'down');
    assertExit(replaced, 0, 'sync --delete down');
    assert.equal(await readFile(join(rig.dir, 'down', 'd'), 'utf8'), 'file d');
  });

  // A name that is not UTF-8 is in no walk nor listing, so the plan cannot see it below `d`: the replacement
  // itself keeps it while an exclude is in effect (a pattern is UTF-8 and could not keep it), and fails, `d`
  // kept; without one it is asked to take such names too (sync up: the server, by REPLACE_DIR's NOT_UTF8).
  test('a name that is not UTF-8 below a replaced directory stays with an exclude, goes without, either way', async () => {
    const cases = [
      [join(rig.root, 'up8'), ['src', `${rig.server.address}/up8`]],
      [join(rig.dir, 'down8'), [`${rig.server.address}/src`, 'down8']],
    ] as const;
    for (const [base, args] of cases) {
      const name = notUtf8Name(join(base, 'd'), 'y', '.key');
      await mkdir(join(base, 'd'), { recursive: true });
      await writeFile(name, 'bytes');
      const kept = await ferry('sync', '--delete', '--exclude', '*.key', ...args);
      // Before c67e939: exit 0, `d` a file and `d/y\xfe.key` gone.
      assertExit(kept, PARTIAL_EXIT, `sync --delete --exclude to ${base}`);
      assert.match(kept.stderr, /names that are not UTF-8 are kept when a directory is replaced/);
      assert.equal(await readFile(name, 'utf8'), 'bytes');
    }
    for (const [base, args] of cases) {
      // Before: exit 7 up (the server was never asked), as down before 75746bf.
      const replaced = await ferry('sync', '--delete', ...args);
      assertExit(replaced, 0, `sync --delete without excludes to ${base}`);
      assert.equal(await readFile(join(base, 'd'), 'utf8'), 'file d');
    }
  });

  test('up: a link replaces a directory holding names that are not UTF-8 only without excludes, never through a link', async () => {
    const source = join(rig.dir, 'srclink');
    await mkdir(source);
    await writeFile(join(source, 'other.txt'), 'other');
    await symlink('other.txt', join(source, 'l'));
    const outside = join(rig.dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'keep'), 'outside');
    // DST's `l`: names that are not UTF-8, a file, a directory holding a file, one beside a UTF-8 name in
    // `sub`, and a link to a directory outside the server's root, whose file must stay.
    const l = join(rig.root, 'uplink', 'l');
    await mkdir(join(l, 'sub'), { recursive: true });
    await writeFile(notUtf8Name(l, 'z', '.key'), 'bytes');
    await mkdir(notUtf8Name(l, 'dir'));
    await writeFile(Buffer.concat([notUtf8Name(l, 'dir'), Buffer.from('/inner')]), 'inner');
    await writeFile(notUtf8Name(join(l, 'sub'), 'w'), 'w');
    await writeFile(join(l, 'sub', 'b.txt'), 'b');
    await symlink(outside, notUtf8Name(l, 'out'));
    const target = `${rig.server.address}/uplink`;

    const kept = await ferry('sync', '--delete', '--exclude', '*.key', source, target);
    assertExit(kept, PARTIAL_EXIT, 'sync --delete --exclude up, a link for a directory');
    assert.match(kept.stderr, /names that are not UTF-8 are kept when a directory is replaced/);
    assert.equal(await readFile(notUtf8Name(l, 'z', '.key'), 'utf8'), 'bytes');

    // Before: exit 7, `l` a directory still holding its names that are not UTF-8.
    const replaced = await ferry('sync', '--delete', source, target);
    assertExit(replaced, 0, 'sync --delete up, a link for a directory');
    assert.equal(await readlink(l), 'other.txt');
    assert.equal(await readFile(join(outside, 'keep'), 'utf8'), 'outside');
  });
});
