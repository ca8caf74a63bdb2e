// End to end: a download whose resume state (`.NAME.ferry-state`, written through `.NAME.ferry-state.tmp`)
// cannot be written because a file ferry did not make has that name. FILE_EXISTS' `--overwrite` would not
// help (ferry never removes what it did not make): the user is told which file to remove, by the path they
// asked for, and the file is left as it was.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

let dir: string;
let clientHome: string;
let serverId: string;
let server: ServeProcess | undefined;

before(async () => {
  dir = await makeTempDir();
  clientHome = join(dir, 'client-home');
  const serverHome = join(dir, 'server-home');
  const root = join(dir, 'root');
  const client = await runFerry(['--home', clientHome, 'keygen']);
  assertExit(client, 0, 'client keygen');
  const serverKey = await runFerry(['--home', serverHome, 'keygen']);
  assertExit(serverKey, 0, 'server keygen');
  serverId = serverKey.stdout.trim();
  assertExit(await runFerry(['--home', serverHome, 'allow', client.stdout.trim()]), 0, 'allow');
  await mkdir(root, { recursive: true });
  // Big enough to travel alone with a resume state (not in a batch of small files).
  await writeRandomFile(join(root, 'big.bin'), 300_000);
  server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
});

after(async () => {
  await server?.stop();
  await removeTempDir(dir);
});

test('get: a file of the user where the state goes is named for removal (no --overwrite hint) and kept', async () => {
  const dest = join(dir, 'dest');
  await mkdir(dest);
  const inTheWay = join(dest, '.big.bin.ferry-state.tmp');
  const mine = 'the user own notes, not ferry state\n';
  await writeFile(inTheWay, mine);
  const result = await runFerry([
    '--home',
    clientHome,
    'get',
    `${server!.address}/big.bin`,
    dest,
    '--expect',
    serverId,
    '--chunk-size',
    '64k',
  ]);
  assertExit(result, 8, 'get with a foreign file where the state goes');
  assert.match(result.stderr, /STATE_FILE_IN_THE_WAY/);
  assert.ok(result.stderr.includes(join(dest, 'big.bin')), `names the path asked for:\n${result.stderr}`);
  assert.ok(result.stderr.includes(`remove ${inTheWay}`), `says what to remove:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /--overwrite/);
  assert.equal(await readFile(inTheWay, 'utf8'), mine, 'the file in the way is untouched');
});
