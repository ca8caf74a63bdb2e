// End to end: server key rotation through the real CLI (dist/) as separate processes on loopback
// (PROTOCOL.md §13): `ferry key prepare`, a restart (clients record the commitment), `ferry key rotate`, a
// restart (a client pinned to the old key moves its pin), `ferry key finish`, a restart (the new key serves).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lookupKeyCommitment, lookupServer } from '../../src/home/index.js';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let server: ServeProcess | undefined;

before(async () => {
  dir = await makeTempDir('ferry-e2e-rotate-');
});

after(async () => {
  await server?.stop();
  await removeTempDir(dir);
});

test('ferry key prepare / rotate / finish: a client pinned to the old key follows without `ferry trust`', async () => {
  const serverHome = join(dir, 'server-home');
  const clientHome = join(dir, 'client-home');
  const root = join(dir, 'root');
  const oldId = (await runFerry(['--home', serverHome, 'keygen'])).stdout.trim();
  const clientId = (await runFerry(['--home', clientHome, 'keygen'])).stdout.trim();
  assertExit(await runFerry(['--home', serverHome, 'allow', clientId]), 0, 'allow');
  const source = join(dir, 'note.txt');
  await writeFile(source, 'rotate me\n');

  server = await startServe(['--home', serverHome, '--root', root]);
  const address = server.address;
  const restart = async (): Promise<void> => {
    await server?.stop();
    server = await startServe(['--home', serverHome, '--root', root, '--listen', address]);
  };
  const send = (): ReturnType<typeof runFerry> =>
    runFerry(['--home', clientHome, 'send', source, address, '--expect', oldId, '--overwrite']);
  assertExit(await send(), 0, 'first send pins the old key');

  const nextKey = join(dir, 'offline-next.key');
  const prepared = await runFerry(['--home', serverHome, 'key', 'prepare', '--out', nextKey]);
  assertExit(prepared, 0, 'key prepare');
  assert.equal((await stat(nextKey)).mode & 0o777, 0o600);
  await restart();
  assertExit(await send(), 0, 'send after prepare');
  assert.equal((await lookupKeyCommitment(clientHome, address))?.toString('hex'), prepared.stdout.trim());

  const afterKey = join(dir, 'offline-after.key');
  const rotated = await runFerry([
    '--home',
    serverHome,
    'key',
    'rotate',
    '--next',
    nextKey,
    '--out',
    afterKey,
  ]);
  assertExit(rotated, 0, 'key rotate');
  const newId = rotated.stdout.trim();
  assert.notEqual(newId, oldId);
  await restart();
  assert.equal(server.id, oldId, 'the server still handshakes with the old key');
  assertExit(await send(), 0, 'send during the rotation');
  assert.equal(await lookupServer(clientHome, address), newId, 'the pin moved without `ferry trust`');

  assertExit(await runFerry(['--home', serverHome, 'key', 'finish']), 0, 'key finish');
  await restart();
  assert.equal(server.id, newId, 'the server now handshakes with the new key');
  const last = await runFerry(['--home', clientHome, 'send', source, address, '--overwrite']);
  assertExit(last, 0, 'send after the rotation');
  assert.equal(await readFile(join(root, 'note.txt'), 'utf8'), 'rotate me\n');
});
