// End to end: a path that is not on the server is answered with the way on, the listing of the directory it
// was looked for in: `ferry get host/notse.txt` said only "no such file or directory: host:7443/notse.txt
// (from the server)" (a new user's pass), the right name left to guess. `get`, `ls` and a sync down; with
// --json, the summary's message says it as the stderr line does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, assertSummaryIsTheErrorLine, runFerry } from '../helpers/cli.js';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

describe('a path missing on the server', () => {
  let dir: string;
  let rig: AdmittedCli | undefined;
  let address: string;
  const ferry = (...args: string[]): ReturnType<typeof runFerry> =>
    runFerry(['--home', rig!.clientHome, ...args, '--expect', rig!.serverId], { cwd: dir });

  before(async () => {
    dir = await makeTempDir('ferry-e2e-remote-missing-');
    const root = join(dir, 'root');
    await mkdir(join(root, 'my dir'), { recursive: true });
    await writeFile(join(root, 'my dir', 'notes.txt'), 'notes\n');
    rig = await startAdmittedServe(dir, root, ['--log-level', 'warn']);
    address = rig.server.address;
  });

  after(async () => {
    await rig?.server.stop();
    await removeTempDir(dir);
  });

  test('get names the ls of its directory, quoted for the shell', async () => {
    const result = await ferry('get', `${address}/my dir/notse.txt`);
    assertExit(result, 7, 'get a missing file');
    assert.equal(
      result.stderr,
      `ferry: PATH_NOT_FOUND: no such file or directory: ${address}/my dir/notse.txt (from the server); \`ferry ls '${address}/my dir'\` lists what is there\n`,
    );
  });

  test('get of several, one missing, names it and the ls of the root', async () => {
    const result = await ferry('get', `${address}/my dir/notes.txt`, `${address}/gone.txt`, `${dir}/`);
    assertExit(result, 7, 'get two, one missing');
    assert.ok(
      result.stderr.endsWith(
        `ferry: PATH_NOT_FOUND: no such file or directory: ${address}/gone.txt (from the server); 1 of 2 files failed; \`ferry ls ${address}\` lists what is there\n`,
      ),
      result.stderr,
    );
  });

  test('ls and a sync down name the ls of the directory above', async () => {
    const listed = await ferry('ls', `${address}/my dir/sub`);
    assertExit(listed, 7, 'ls a missing directory');
    assert.equal(
      listed.stderr,
      `ferry: PATH_NOT_FOUND: no such file or directory: ${address}/my dir/sub (from the server); \`ferry ls '${address}/my dir'\` lists what is there\n`,
    );
    const synced = await ferry('sync', `${address}/mirror`, join(dir, 'mirror'));
    assertExit(synced, 7, 'sync down a missing directory');
    assert.equal(
      synced.stderr,
      `ferry: PATH_NOT_FOUND: no such file or directory: ${address}/mirror (from the server); \`ferry ls ${address}\` lists what is there\n`,
    );
  });

  // get and sync added the hint after the run, which had written --json's summary without it (nor the mark).
  test('--json: the summary message of a get and a sync down is the stderr line, hint and mark included', async () => {
    const got = await ferry('get', `${address}/my dir/notse.txt`, `${dir}/`, '--json');
    assertExit(got, 7, 'get --json a missing file');
    assert.match(got.stderr, /\(from the server\); `ferry ls '[^']+\/my dir'` lists what is there\n$/);
    assertSummaryIsTheErrorLine(got, 'PATH_NOT_FOUND');
    const synced = await ferry('sync', `${address}/mirror`, join(dir, 'mirror'), '--json');
    assertExit(synced, 7, 'sync --json down a missing directory');
    assert.match(synced.stderr, /lists what is there\n$/);
    assertSummaryIsTheErrorLine(synced, 'PATH_NOT_FOUND');
  });
});
