// End to end: a new user pairs with `localhost:PORT` and then, as the README's quick start writes it, sends to
// `127.0.0.1:PORT`. Pins are by address (as OpenSSH's known_hosts), so the server is unknown there, and the
// refusal said only "server key is not pinned for this address": nothing told the user that this very key was
// pinned a minute ago under the other name. It now says so, and still pins nothing by itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type ServeProcess } from '../helpers/cli.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let clientHome: string;
let serverId: string;
let server: ServeProcess | undefined;

before(async () => {
  dir = await makeTempDir('ferry-e2e-pinned-by-another-name-');
  await writeFile(join(dir, 'a.txt'), 'a\n');
  ({ clientHome, serverId, server } = await startAdmittedServe(dir, join(dir, 'root'), [
    '--log-level',
    'warn',
  ]));
});

after(async () => {
  await server?.stop();
  await removeTempDir(dir);
});

test('a server unknown at this address whose key is pinned under another name says which name', async () => {
  const port = server!.address.slice(server!.address.lastIndexOf(':') + 1);
  assertExit(await runFerry(['--home', clientHome, 'trust', `localhost:${port}`, serverId]), 0, 'trust');
  const send = (): ReturnType<typeof runFerry> =>
    runFerry(['--home', clientHome, 'send', join(dir, 'a.txt'), server!.address, '--retries', '0']);
  const refused = await send();
  assertExit(refused, 4, 'send to the other name');
  assert.equal(
    refused.stderr,
    `ferry: SERVER_KEY_UNKNOWN: server key is not pinned for this address: ${server!.address}: offered ferry id ${serverId}; ` +
      `this key is pinned for localhost:${port} (the same server by another name?); ` +
      `if that is the id the operator of the server gave you, run \`ferry --home ${clientHome} trust ${server!.address} ${serverId}\` ` +
      `or pass \`--expect ${serverId}\` (or \`--accept-new\` to trust whatever key it offers the first time)\n`,
  );
  // Nothing was pinned by the hint: the same send is refused again.
  assertExit(await send(), 4, 'send again');
});
