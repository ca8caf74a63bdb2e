// End to end: a download that this machine's file system refuses (a read-only directory, a file where a
// directory is expected, a directory where a file is expected) names what the user asked for and the
// system's reason, as scp and rsync do: never ferry's temporaries beside it (`.a.txt.ferry-state.tmp`),
// never a component number, never a path relative to the server's tree. Real `ferry` processes on
// loopback; the client runs as a user file modes bind (root without CAP_DAC_OVERRIDE: `heedModes`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ERROR_CODES, EXIT_CODES } from '../../src/errors/index.js';
import { assertExit, runFerry, startServe, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { mountSmallFilesystem } from '../helpers/small-filesystem.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** Larger than the small file system below, so a download into it meets a real ENOSPC. */
const BIG_BYTES = 2 * 1024 * 1024;
const SMALL_FS_BYTES = 1024 * 1024;

describe('local file system failures of a download name the path asked for and why', () => {
  let dir: string;
  let clientHome: string;
  let serverId: string;
  let root: string;
  let server: ServeProcess;
  let bigSha256: string;
  /** Directories made read-only, given their write bit back before the temporary tree is removed. */
  const readOnly: string[] = [];

  function ferry(...args: string[]): Promise<CliResult> {
    return runFerry(['--home', clientHome, ...args, '--expect', serverId, '--retries', '0'], {
      heedModes: true,
    });
  }

  async function readOnlyDir(...path: string[]): Promise<string> {
    const made = join(dir, ...path);
    await mkdir(made, { recursive: true });
    await chmod(made, 0o555);
    readOnly.push(made);
    return made;
  }

  /** No line names a ferry temporary, a component by number, or the table's "relative path" text. */
  function assertNamesNoInternals(result: CliResult): void {
    assert.doesNotMatch(result.stderr, /ferry-(state|part|batch|link)|\.tmp\b/, result.stderr);
    assert.doesNotMatch(result.stderr, /component \d/, result.stderr);
    assert.doesNotMatch(result.stderr, /not a valid relative path/, result.stderr);
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-local-fs-');
    clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    root = join(dir, 'root');
    const client = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(client, 0, 'client keygen');
    serverId = (await runFerry(['--home', serverHome, 'keygen'])).stdout.trim();
    assertExit(await runFerry(['--home', serverHome, 'allow', client.stdout.trim()]), 0, 'allow');
    await mkdir(join(root, 'tree', 'sub'), { recursive: true });
    await writeFile(join(root, 'a.txt'), 'aaa');
    await writeFile(join(root, 'tree', 'one.txt'), '1');
    await writeFile(join(root, 'tree', 'two.txt'), '2');
    await writeFile(join(root, 'tree', 'sub', 'three.txt'), '3');
    await mkdir(join(root, 'many'));
    for (const n of [1, 2, 3, 4]) await writeFile(join(root, 'many', `m${n}.txt`), `${n}`);
    bigSha256 = await writeRandomFile(join(root, 'big.bin'), BIG_BYTES);
    server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
  });

  after(async () => {
    await server.stop();
    for (const made of readOnly) await chmod(made, 0o755);
    await removeTempDir(dir);
  });

  // A real ENOSPC needs a small file system: RLIMIT_FSIZE gives EFBIG instead, a loop device or a tmpfs needs
  // root. The suite runs as root here; elsewhere this test fails saying so (mountSmallFilesystem), never skips.
  test('a get onto a full file system names the file asked for and "no space left", with the IO_ERROR exit code', async (t) => {
    const small = await mountSmallFilesystem(t, SMALL_FS_BYTES);
    const storageExit = EXIT_CODES[ERROR_CODES.IO_ERROR.category];
    assert.equal(EXIT_CODES[ERROR_CODES.DISK_FULL.category], storageExit, 'a full disk exits as an IO error');
    const one = await ferry('get', `${server.address}/big.bin`, small);
    assertExit(one, storageExit, 'get onto a full file system');
    // And what to do next, naming the partial as the next step only: it holds the space, the same command
    // resumes from it (README "Exit codes").
    const next =
      /: \.big\.bin\.ferry-part beside it keeps what was verified \([\d.]+ [KM]iB of the disk\): rerun the same command once there is room, to resume, or delete it and \.big\.bin\.ferry-state to free the space\n/;
    assert.match(one.stderr, next);
    const failure = one.stderr.replace(next, '\n');
    assert.ok(
      failure.includes(`ferry: DISK_FULL: no space left on the device: ${join(small, 'big.bin')}\n`),
      one.stderr,
    );
    assertNamesNoInternals({ ...one, stderr: failure });
    // The same in a sync down, which creates its DST there first; --json's summary gives the code.
    const mirror = join(small, 'mirror');
    const synced = await ferry('sync', `${server.address}/`, mirror, '--json');
    assertExit(synced, storageExit, 'sync down onto a full file system');
    const summary = synced.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; code?: string; message?: string })
      .find((e) => e.type === 'summary');
    assert.equal(summary?.code, 'DISK_FULL', synced.stdout);
    assert.ok(summary?.message?.startsWith(`no space left on the device: ${mirror}/`), summary?.message);
    // What README says: the partial stays beside the file (holding the space), and the same command
    // completes the file once there is room (the file system grown in place, as freeing space would).
    assert.ok((await readdir(small)).includes('.big.bin.ferry-part'), 'the partial is left');
    await promisify(execFile)('mount', ['-o', `remount,size=${8 * SMALL_FS_BYTES}`, small]);
    const rerun = await ferry('get', `${server.address}/big.bin`, small);
    assertExit(rerun, 0, 'the same get once there is room');
    assert.equal(await sha256File(join(small, 'big.bin')), bigSha256);
    assert.ok(!(await readdir(small)).includes('.big.bin.ferry-part'), 'the partial is gone once placed');
  });

  test('a get into a read-only directory names the file asked for and the directory that refused it', async () => {
    const ro = await readOnlyDir('ro-get');
    const result = await ferry('get', `${server.address}/a.txt`, ro);
    assertExit(result, 9, 'get into a read-only directory (is the child still allowed to write there?)');
    assert.ok(
      result.stderr.includes(
        `ferry: IO_ERROR: file system error: ${join(ro, 'a.txt')}: permission denied (eacces): cannot create files in ${ro}\n`,
      ),
      result.stderr,
    );
    // The same under another name (`scp HOST:a.txt ro/b.txt`).
    const named = await ferry('get', `${server.address}/a.txt`, join(ro, 'b.txt'));
    assertExit(named, 9, 'get into a read-only directory under another name');
    assert.ok(named.stderr.includes(`${join(ro, 'b.txt')}: permission denied (eacces)`), named.stderr);
    assertNamesNoInternals(result);
    assertNamesNoInternals(named);
  });

  test('a get -r (and a sync down) into a read-only tree names each local path, the summary included', async () => {
    const ro = await readOnlyDir('ro-tree');
    const fresh = await ferry('get', '-r', `${server.address}/tree`, ro);
    assertExit(fresh, 9, 'get -r into a read-only directory');
    // The directory the tree needs, by its local path (not `tree`, the server's name), and who refused it.
    assert.ok(
      fresh.stderr.includes(
        `ferry: IO_ERROR: file system error: ${join(ro, 'tree')}: permission denied (eacces): cannot create files in ${ro}\n`,
      ),
      fresh.stderr,
    );
    assertNamesNoInternals(fresh);
    // The tree there already, read-only: the small files (a batch) and the subdirectory each named.
    const existing = await readOnlyDir('ro-existing', 'tree');
    const into = await ferry('get', '-r', `${server.address}/tree`, join(dir, 'ro-existing'));
    assertExit(into, 9, 'get -r into a read-only tree');
    for (const name of ['one.txt', 'two.txt'])
      assert.ok(
        into.stderr.includes(
          `${join(existing, name)}: permission denied (eacces): cannot create files in ${existing}`,
        ),
        into.stderr,
      );
    assert.ok(into.stderr.includes(`${join(existing, 'sub')}: permission denied (eacces)`), into.stderr);
    assert.doesNotMatch(into.stderr, /^ferry: .*: sub: /m, 'the summary names the local path, not "sub"');
    assertNamesNoInternals(into);
    // Small files in one directory come in a batch (PROTOCOL.md §5.20), staged as temporaries: the same.
    const batched = await readOnlyDir('ro-batch', 'many');
    const batch = await ferry('get', '-r', `${server.address}/many`, join(dir, 'ro-batch'));
    assertExit(batch, 9, 'get -r of a batch into a read-only directory');
    for (const n of [1, 2, 3, 4])
      assert.ok(
        batch.stderr.includes(
          `${join(batched, `m${n}.txt`)}: permission denied (eacces): cannot create files in ${batched}\n`,
        ),
        batch.stderr,
      );
    assertNamesNoInternals(batch);
    const sync = await ferry('sync', `${server.address}/tree`, existing);
    assertExit(sync, 9, 'sync down into a read-only tree');
    assert.ok(sync.stderr.includes(`${join(existing, 'one.txt')}: permission denied (eacces)`), sync.stderr);
    assert.doesNotMatch(sync.stderr, /^ferry: .*: sub: /m, 'the summary names the local path, not "sub"');
    assertNamesNoInternals(sync);
  });

  test('--mkdir under a read-only directory names the directory it could not make and its parent', async () => {
    const ro = await readOnlyDir('ro-mkdir');
    for (const args of [
      ['get', `${server.address}/a.txt`, `${join(ro, 'x', 'y')}/`, '--mkdir'],
      ['get', '-r', `${server.address}/tree`, join(ro, 'x', 'y'), '--mkdir'],
    ]) {
      const result = await ferry(...args);
      assertExit(result, 9, args.join(' '));
      assert.ok(
        result.stderr.includes(
          `${join(ro, 'x')}: permission denied (eacces): cannot create files in ${ro}\n`,
        ),
        result.stderr,
      );
    }
  });

  test('a file where a directory is expected, and a directory where a file is expected, are named with the system words', async () => {
    // get -r whose subdirectory is a file here: that file is named, "not a directory", in each line.
    const local = join(dir, 'file-in-the-way');
    await mkdir(join(local, 'tree'), { recursive: true });
    await writeFile(join(local, 'tree', 'sub'), 'a file');
    const tree = await ferry('get', '-r', `${server.address}/tree`, local);
    assertExit(tree, 9, 'get -r with a file in the way of a directory');
    assert.ok(
      tree.stderr.includes(
        `ferry: IO_ERROR: file system error: ${join(local, 'tree', 'sub')}: not a directory (enotdir)`,
      ),
      tree.stderr,
    );
    assert.doesNotMatch(tree.stderr, /use --overwrite/, '--overwrite never replaces a file by a directory');
    assertNamesNoInternals(tree);
    // A directory where the file goes: "is a directory", naming it.
    const dirs = join(dir, 'dir-in-the-way');
    await mkdir(join(dirs, 'a.txt'), { recursive: true });
    const file = await ferry('get', `${server.address}/a.txt`, dirs);
    assertExit(file, 9, 'get onto a directory');
    assert.ok(
      file.stderr.includes(
        `ferry: IO_ERROR: file system error: ${join(dirs, 'a.txt')}: is a directory (eisdir)\n`,
      ),
      file.stderr,
    );
    assertNamesNoInternals(file);
  });
});
