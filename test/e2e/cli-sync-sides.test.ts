// End to end: `ferry sync` with both sides on one machine or both on a server, as a user who knows rsync
// types them. `sync HOST:PORT/SRC HOST:PORT/DST` took the missing DST for a local directory and made
// `HOST:PORT/DST` here (parents included) with SRC's files in it; `sync tree backup` (two local directories,
// as rsync takes them) dialled `backup` as a host ("could not connect: backup:7443: unknown host"). Both are
// now refused before connecting (USAGE_INVALID, exit 2), nothing made; a local directory really named like
// a server still works as DST.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const BOTH_SIDES =
  'sync copies between this machine and one server, SRC on one and DST on the other (a local mirror is rsync -a or cp -a)';

let dir: string;
let work: string;
let clientHome: string;
let serverId: string;
let server: ServeProcess | undefined;

before(async () => {
  dir = await makeTempDir('ferry-e2e-sync-sides-');
  const root = join(dir, 'root');
  await mkdir(join(root, 'src'), { recursive: true });
  await writeFile(join(root, 'src', 'a.txt'), 'a\n');
  work = join(dir, 'work');
  await mkdir(join(work, 'tree'), { recursive: true });
  await writeFile(join(work, 'tree', 'b.txt'), 'b\n');
  await mkdir(join(work, 'backup'));
  ({ clientHome, serverId, server } = await startAdmittedServe(dir, root, ['--log-level', 'warn']));
});

after(async () => {
  await server?.stop();
  await removeTempDir(dir);
});

function sync(...args: string[]): Promise<CliResult> {
  return runFerry(['--home', clientHome, 'sync', ...args, '--expect', serverId, '--retries', '0'], {
    cwd: work,
  });
}

test('sync from a server to a server is refused before connecting; no local directory is made', async () => {
  const address = server!.address;
  const host = address.slice(0, address.lastIndexOf(':'));
  for (const dst of [`${address}/copy`, `${host}/copy`]) {
    const result = await sync(`${address}/src`, dst);
    assertExit(result, 2, `sync ${address}/src ${dst}`);
    assert.equal(
      result.stderr,
      `ferry: USAGE_INVALID: invalid usage: ${dst}: names a server too: ${BOTH_SIDES}; a new local directory of that name is written ./${dst}\n`,
    );
  }
  assert.deepEqual((await readdir(work)).sort(), ['backup', 'tree']);
});

test('sync between two local directories is refused before dialling one as a host', async () => {
  const result = await sync('tree', 'backup');
  assertExit(result, 2, 'sync tree backup');
  assert.equal(
    result.stderr,
    `ferry: USAGE_INVALID: invalid usage: backup: is on this machine too: ${BOTH_SIDES}; a server of that name is written with its port, backup:7443\n`,
  );
  assert.deepEqual(await readdir(join(work, 'backup')), []);
});

test('a local DST really named like the server is still a local directory', async () => {
  const named = join(work, server!.address);
  await mkdir(named);
  try {
    const result = await sync(`${server!.address}/src`, `${server!.address}/copy`);
    assertExit(result, 0, 'sync into a local directory named HOST:PORT');
    assert.equal(await readFile(join(named, 'copy', 'a.txt'), 'utf8'), 'a\n');
  } finally {
    await rm(named, { recursive: true, force: true });
  }
});

test('a remote file as SRC or DST is named in the refusal (it read "the destination is a file", naming nothing)', async () => {
  const file = `${server!.address}/src/a.txt`;
  const up = await sync('tree', file);
  assertExit(up, 2, 'sync up onto a remote file');
  assert.equal(
    up.stderr,
    `ferry: USAGE_INVALID: invalid usage: ${file}: the destination is a file: sync mirrors directories\n`,
  );
  const down = await sync(file, 'fresh');
  assertExit(down, 2, 'sync down from a remote file');
  assert.equal(
    down.stderr,
    `ferry: USAGE_INVALID: invalid usage: ${file}: the source is a file: sync mirrors directories\n`,
  );
});
