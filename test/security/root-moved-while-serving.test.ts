// A root swapped while the server runs (stop 44): the start checks the root and the way to it (stop 43,
// root-ancestors), and resolves it once, so a mode loosened later (a `chmod` above the root) let whoever could
// then write there rename the root away and put another directory in its place, and the running server
// served it to every later session, each path check passing (the path is the same string). Now each session's
// admission asks whether the root's path still names the directory the start checked (one stat, as OpenSSH's
// StrictModes checks at each login): else INTERNAL, and the log says why, until a restart, which judges the
// new root. The swap is made here by the test's own user: what matters is what the running server then serves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServeInTempDir } from '../helpers/admitted-cli.js';
import { runFerry } from '../helpers/cli.js';

test('a root swapped for another directory while the server runs is not served', async (t) => {
  const rig = await startAdmittedServeInTempDir('ferry-root-moved-', (root) =>
    writeFile(join(root, 'public.txt'), 'public\n'),
  );
  t.after(() => rig.close());
  const get = (name: string) =>
    runFerry([
      '--home',
      rig.clientHome,
      'get',
      `${rig.server.address}/${name}`,
      join(rig.dir, `got-${name}`),
      '--expect',
      rig.serverId,
    ]);
  const before = await get('public.txt');
  assert.equal(before.code, 0, `the root as started is served: ${before.stderr}`);
  // Another directory in the root's place, holding what its maker wants served (or read by uploads).
  await rename(rig.root, join(rig.dir, 'old-root'));
  await mkdir(rig.root);
  await writeFile(join(rig.root, 'planted.txt'), 'PLANTED\n');
  const after = await get('planted.txt');
  const got = await readFile(join(rig.dir, 'got-planted.txt'), 'utf8').catch(() => undefined);
  assert.equal(got, undefined, `the swapped root was served: exit ${after.code}`);
  // The client learns an internal error, the operator why (the wire carries no internal detail, §5.1).
  assert.match(after.stderr, /INTERNAL/);
  assert.notEqual(after.code, 0);
  assert.match(rig.server.stderr, /root-moved/);
});

test('a server home swapped while the server runs does not admit whom its replacement allows', async (t) => {
  const rig = await startAdmittedServeInTempDir('ferry-home-moved-', (root) =>
    writeFile(join(root, 'public.txt'), 'public\n'),
  );
  t.after(() => rig.close());
  // The other key, and a home of the server user's listing it (what a download of the attacker's leaves).
  const otherHome = join(rig.dir, 'other-home');
  const other = await runFerry(['--home', otherHome, 'keygen']);
  assert.equal(other.code, 0, other.stderr);
  const planted = join(rig.dir, 'planted-home');
  assert.equal((await runFerry(['--home', planted, 'keygen'])).code, 0);
  assert.equal((await runFerry(['--home', planted, 'allow', other.stdout.trim()])).code, 0);
  const list = (home: string) =>
    runFerry(['--home', home, 'ls', `${rig.server.address}/`, '--expect', rig.serverId]);
  assert.equal((await list(rig.clientHome)).code, 0, 'the allowed client lists');
  assert.notEqual((await list(otherHome)).code, 0, 'the other key is not allowed');
  await rename(rig.serverHome, join(rig.dir, 'old-server-home'));
  await rename(planted, rig.serverHome);
  const after = await list(otherHome);
  // Before: admitted by the replacement's allow-list, exit 0 and the root listed.
  assert.notEqual(after.code, 0, `the other key was admitted: ${after.stdout}`);
  assert.doesNotMatch(after.stdout, /public\.txt/);
  // Refused at once with INTERNAL, not retried; the log says why.
  assert.match(after.stderr, /INTERNAL/);
  assert.doesNotMatch(after.stderr, /retrying/);
  assert.match(rig.server.stderr, /home-moved/);
});
