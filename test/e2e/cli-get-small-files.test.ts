// End to end: `ferry get -r` of a tree of many small files through the real CLI (dist/) on loopback, which
// fetches them in batches (PROTOCOL.md §5.20). `--json` reports every file as the one-file path does
// (started, progress, finished with the digest `ferry digest` prints), the tree lands whole with modes and
// mtimes, a second get leaves every file as it is (identical, nothing written), and a file that differs
// locally is refused alone (FILE_EXISTS) while the others are settled.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const FILES = 150;

describe('ferry get -r of many small files', () => {
  let dir: string;
  let clientHome: string;
  let root: string;
  let server: ServeProcess | undefined;
  let common: string[];
  const names = Array.from({ length: FILES }, (_, i) => `${['a', 'b/c', 'b/d'][i % 3]}/f${i}.txt`);

  before(async () => {
    dir = await makeTempDir('ferry-e2e-get-small-');
    clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    root = join(dir, 'root');
    const keygen = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(keygen, 0, 'keygen');
    assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'server keygen');
    assertExit(await runFerry(['--home', serverHome, 'allow', keygen.stdout.trim()]), 0, 'allow');
    const random = new SeededRandom(34);
    for (const [i, name] of names.entries()) {
      const path = join(root, 'tree', name);
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, random.bytes(i % 7 === 0 ? 0 : random.int(1, 6000)));
      await chmod(path, i % 2 ? 0o600 : 0o644);
      await utimes(path, 1_600_000_000 + i, 1_600_000_000 + i);
    }
    server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
    common = ['--home', clientHome, '--expect', server.id];
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  const events = (stdout: string): Array<Record<string, unknown>> =>
    stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  test('get -r --json reports every small file as today and the tree lands whole with modes and mtimes', async () => {
    const local = join(dir, 'local');
    await mkdir(local);
    const result = await runFerry(['get', '-r', `${server!.address}/tree`, `${local}/`, '--json', ...common]);
    assertExit(result, 0, 'get -r --json');
    const all = events(result.stdout);
    const of = (type: string): Array<Record<string, unknown>> => all.filter((e) => e['type'] === type);
    const finished = of('transfer-finished');
    assert.equal(finished.length, FILES, 'one transfer-finished per file');
    assert.equal(of('transfer-started').length, FILES, 'one transfer-started per file');
    const progressed = new Set(of('progress').map((e) => e['remotePath']));
    for (const [i, name] of names.entries())
      if (i % 7 !== 0) assert.ok(progressed.has(`tree/${name}`), `progress for ${name}`);
    const summary = all[all.length - 1]!;
    assert.equal(summary['type'], 'summary');
    assert.equal(summary['ok'], true);
    assert.equal(summary['files'], FILES);
    // The digest of a batched file is the one `ferry digest` prints (PROTOCOL.md §7.2).
    const sample = finished.find((e) => e['remotePath'] === `tree/${names[1]}`)!;
    assert.equal(
      sample['digest'],
      (await runFerry(['digest', join(root, 'tree', names[1]!)])).stdout.split(' ')[0],
    );
    for (const [i, name] of names.entries()) {
      const path = join(local, 'tree', name);
      assert.deepEqual(await readFile(path), await readFile(join(root, 'tree', name)), name);
      const st = await stat(path);
      assert.equal(st.mode & 0o777, i % 2 ? 0o600 : 0o644, `mode of ${name}`);
      assert.equal(Math.floor(st.mtimeMs / 1000), 1_600_000_000 + i, `mtime of ${name}`);
    }
    // Nothing but the tree: no temporary or partial is left beside the files.
    const entries = await readdir(join(local, 'tree'), { recursive: true, withFileTypes: true });
    const files = entries
      .filter((e) => e.isFile())
      .map((e) => relative(join(local, 'tree'), join(e.parentPath, e.name)));
    assert.deepEqual(files.sort(), [...names].sort());
  });

  test('get -r again leaves identical files as they are, and refuses one that differs locally, alone', async () => {
    const local = join(dir, 'local');
    await writeFile(join(local, 'tree', names[4]!), 'changed here');
    const result = await runFerry(['get', '-r', `${server!.address}/tree`, `${local}/`, '--json', ...common]);
    assertExit(result, 8, 'second get -r'); // FILE_EXISTS: a transfer error
    const all = events(result.stdout);
    const finished = all.filter((e) => e['type'] === 'transfer-finished');
    assert.equal(finished.length, FILES - 1);
    assert.ok(finished.every((e) => e['identical'] === true && e['transferredBytes'] === 0));
    const failed = all.filter((e) => e['type'] === 'transfer-failed');
    assert.deepEqual(
      failed.map((e) => [e['remotePath'], e['code']]),
      [[`tree/${names[4]}`, 'FILE_EXISTS']],
    );
    assert.equal(await readFile(join(local, 'tree', names[4]!), 'utf8'), 'changed here');
  });
});
