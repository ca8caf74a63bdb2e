// End to end: an upload-only client's `ferry sync` up is refused its listing (a sync lists both trees, which
// takes the download permission, README "Sync"); the error says so and names `send -r`, which uploads
// without it, instead of only "listing not granted".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let server: ServeProcess;
let clientHome: string;
let serverId: string;

before(async () => {
  dir = await makeTempDir('ferry-e2e-sync-upload-only-');
  clientHome = join(dir, 'client-home');
  const serverHome = join(dir, 'server-home');
  const client = await runFerry(['--home', clientHome, 'keygen']);
  serverId = (await runFerry(['--home', serverHome, 'keygen'])).stdout.trim();
  const allow = ['--home', serverHome, 'allow', client.stdout.trim(), '--permissions', 'upload'];
  assertExit(await runFerry(allow), 0, 'allow upload only');
  await mkdir(join(dir, 'root'));
  server = await startServe(['--home', serverHome, '--root', join(dir, 'root'), '--log-level', 'warn']);
  await mkdir(join(dir, 'src'));
  await writeFile(join(dir, 'src', 'a.txt'), 'a');
});

after(async () => {
  await server.stop();
  await removeTempDir(dir);
});

test("an upload-only client's sync says it needs the download permission and that send -r does not", async () => {
  const src = join(dir, 'src');
  const dst = `${server.address}/m`;
  const result = await runFerry(['--home', clientHome, 'sync', src, dst, '--expect', serverId]);
  assertExit(result, 4, 'sync of an upload-only client');
  assert.equal(
    result.stderr,
    `ferry: PERMISSION_DENIED: operation not permitted: ${dst}: listing not granted (from the server); a sync lists both trees, which takes the download permission too: send -r uploads without it (\`ferry send -r ${src} ${dst}\`; README "Directories" says where it lands)\n`,
  );
});
