// End to end: the server's log line of a pairing (`event: "paired"`) names the client once. The session's
// logger binds `peer` and the line added it again, so its JSON held the key twice ("peer":"iusc5eojp", ...,
// "peer":"iusc5eojp"): a reader keeps one of the two, a strict parser refuses the line.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let server: ServeProcess | undefined;

before(async () => {
  dir = await makeTempDir('ferry-cli-pairing-log-');
});

after(async () => {
  await server?.stop();
  await removeTempDir(dir);
});

test('the "paired" log line has each key once, the client\'s short ID under peer', async () => {
  const serverHome = join(dir, 'server-home');
  const clientHome = join(dir, 'client-home');
  const root = join(dir, 'root');
  await mkdir(root);
  assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'server keygen');
  const clientId = (await runFerry(['--home', clientHome, 'keygen'])).stdout.trim();
  server = await startServe(['--home', serverHome, '--root', root]);
  const invite = await runFerry(['--home', serverHome, 'invite', '--json', '--address', server.address]);
  assertExit(invite, 0, 'invite');
  const { code } = JSON.parse(invite.stdout) as { code: string };
  assertExit(await runFerry(['--home', clientHome, 'pair', server.address, code]), 0, 'pair');
  // Stopped first: every line it logged is then written.
  await server.stop();
  const paired = server.stderr.split('\n').filter((line) => line.includes('"event":"paired"'));
  assert.equal(paired.length, 1, server.stderr);
  const keys = [...paired[0]!.matchAll(/"([a-zA-Z]+)":/g)].map((m) => m[1]!);
  assert.deepEqual(
    keys.filter((key, i) => keys.indexOf(key) !== i),
    [],
    `no key twice: ${paired[0]}`,
  );
  assert.equal((JSON.parse(paired[0]!) as { peer: string }).peer, clientId.slice(0, 9));
});
