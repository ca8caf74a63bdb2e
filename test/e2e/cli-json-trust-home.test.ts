// End to end: `--json`'s summary `message` and the stderr line say an error the same way. After `ferry
// --home DIR send --json` to a server whose key is not pinned, the line named `ferry --home DIR trust ADDRESS
// ID` and the JSON message `ferry trust ADDRESS ID`, which pins in the default home: a program that ran it
// was refused again (seen with a cluster's servers; one server does the same).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, jsonLinesOf, runFerry } from '../helpers/cli.js';
import { startServeBehindProxy, type ServeBehindProxy } from '../helpers/serve-behind-proxy.js';

let rig: ServeBehindProxy | undefined;

before(async () => {
  rig = await startServeBehindProxy('ferry-cli-json-trust-home-');
});

after(() => rig?.close());

test("an unknown server key's --json message names the home's trust command, word for word as stderr", async () => {
  const { dir, server } = rig!;
  const home = join(dir, 'a fresh home');
  assertExit(await runFerry(['--home', home, 'keygen']), 0, 'keygen');
  const file = join(dir, 'six.txt');
  await writeFile(file, 'hello\n');
  const result = await runFerry(['--home', home, 'send', file, server.address, '--json']);
  assertExit(result, 4, 'send to an unpinned key');
  const [summary] = jsonLinesOf<{ type: string; code: string; message: string }>(result.stdout).filter(
    (line) => line.type === 'summary',
  );
  assert.equal(summary?.code, 'SERVER_KEY_UNKNOWN', result.stdout);
  assert.ok(summary.message.includes(`\`ferry --home '${home}' trust ${server.address} `), summary.message);
  assert.equal(result.stderr, `ferry: ${summary.code}: ${summary.message}\n`);
});
