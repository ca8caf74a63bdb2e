// End to end: `ferry send -r` of a tree of many small files through the real CLI (dist/) on loopback, which
// sends them in batches (PROTOCOL.md §5.14). `--json` still reports every file (started, progress,
// finished with the digest `ferry digest` prints), and the tree lands whole, modes and mtimes included.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const FILES = 120;

describe('ferry send -r of many small files', () => {
  let dir: string;
  let clientHome: string;
  let root: string;
  let server: ServeProcess | undefined;
  let common: string[];
  const names = Array.from({ length: FILES }, (_, i) => `${['a', 'b/c', 'b/d'][i % 3]}/f${i}.txt`);

  before(async () => {
    dir = await makeTempDir('ferry-e2e-small-');
    clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    root = join(dir, 'root');
    const keygen = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(keygen, 0, 'keygen');
    assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'server keygen');
    assertExit(await runFerry(['--home', serverHome, 'allow', keygen.stdout.trim()]), 0, 'allow');
    server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
    common = ['--home', clientHome, '--expect', server.id];
    const random = new SeededRandom(33);
    for (const [i, name] of names.entries()) {
      const path = join(dir, 'tree', name);
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, random.bytes(i % 7 === 0 ? 0 : random.int(1, 6000)));
      await chmod(path, i % 2 ? 0o600 : 0o644);
      await utimes(path, 1_600_000_000 + i, 1_600_000_000 + i);
    }
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test('send -r --json reports every small file as today and the tree lands whole with modes and mtimes', async () => {
    const result = await runFerry([
      'send',
      '-r',
      join(dir, 'tree'),
      `${server!.address}/up/`,
      '--mkdir',
      '--json',
      ...common,
    ]);
    assertExit(result, 0, 'send -r --json');
    const events = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const of = (type: string): Array<Record<string, unknown>> => events.filter((e) => e['type'] === type);
    const finished = of('transfer-finished');
    assert.equal(finished.length, FILES, 'one transfer-finished per file');
    assert.equal(of('transfer-started').length, FILES, 'one transfer-started per file');
    // Each non-empty file reports its verified bytes before it is finished, as the one-file path does.
    const progressed = new Set(of('progress').map((e) => e['remotePath']));
    for (const [i, name] of names.entries())
      if (i % 7 !== 0) assert.ok(progressed.has(`up/tree/${name}`), `progress for ${name}`);
    const summary = events[events.length - 1]!;
    assert.equal(summary['type'], 'summary');
    assert.equal(summary['ok'], true);
    assert.equal(summary['files'], FILES);
    // The digest of a batched file is the one `ferry digest` prints (PROTOCOL.md §7.2).
    const sample = finished.find((e) => e['remotePath'] === `up/tree/${names[1]}`)!;
    assert.equal(
      sample['digest'],
      (await runFerry(['digest', join(dir, 'tree', names[1]!)])).stdout.split(' ')[0],
    );
    for (const [i, name] of names.entries()) {
      const local = join(dir, 'tree', name);
      const remote = join(root, 'up', 'tree', name);
      assert.deepEqual(await readFile(remote), await readFile(local), name);
      const st = await stat(remote);
      assert.equal(st.mode & 0o777, i % 2 ? 0o600 : 0o644, `mode of ${name}`);
      assert.equal(Math.floor(st.mtimeMs / 1000), 1_600_000_000 + i, `mtime of ${name}`);
    }
  });

  test('send -r of the same tree again settles every file as identical, without sending its bytes', async () => {
    const result = await runFerry([
      'send',
      '-r',
      join(dir, 'tree'),
      `${server!.address}/up/`,
      '--json',
      ...common,
    ]);
    assertExit(result, 0, 'second send -r');
    const finished = result.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((e) => e['type'] === 'transfer-finished');
    assert.equal(finished.length, FILES);
    assert.ok(finished.every((e) => e['identical'] === true && e['transferredBytes'] === 0));
  });
});
