// A root or server home swapped while the server runs (stop 44): the start checks them and the way to them
// (stop 43, root-ancestors, home-ancestors), resolves the root once and re-reads the home's allow-list and
// invites by path at each session, so a mode loosened later (a `chmod` above either) let whoever could then
// write there rename it away and put another directory in its place: the running server served the new root
// to every later session (each path check passing: the path is the same string), and admitted or paired whom
// the new home's files named. Now each admission asks whether the home and the root still name the
// directories the start checked (one stat each, as OpenSSH's StrictModes checks at each login): else
// INTERNAL at once, and the log says why, until a restart, which judges the new ones. The swaps are made here
// by the test's own user: what matters is what the running server then does.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAdmittedServeInTempDir } from '../helpers/admitted-cli.js';
import { runFerry, type CliResult } from '../helpers/cli.js';

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

/**
 * A running server whose home is then replaced by a home of the server user's holding `prepare`'s files
 * (what a download of the attacker's leaves: made here with the CLI), and another key's home.
 */
async function homeSwapRig(t: TestContext, prepare: (planted: string, otherId: string) => Promise<void>) {
  const rig = await startAdmittedServeInTempDir('ferry-home-moved-', (root) =>
    writeFile(join(root, 'public.txt'), 'public\n'),
  );
  t.after(() => rig.close());
  const otherHome = join(rig.dir, 'other-home');
  const other = await runFerry(['--home', otherHome, 'keygen']);
  assert.equal(other.code, 0, other.stderr);
  const planted = join(rig.dir, 'planted-home');
  assert.equal((await runFerry(['--home', planted, 'keygen'])).code, 0);
  await prepare(planted, other.stdout.trim());
  const swap = async (): Promise<void> => {
    await rename(rig.serverHome, join(rig.dir, 'old-server-home'));
    await rename(planted, rig.serverHome);
  };
  return { rig, otherHome, swap };
}

/** The refusal of a session once the home moved: INTERNAL at once, not retried, and the log says why. */
function assertRefusedForMovedHome(result: CliResult, serverLog: string): void {
  assert.match(result.stderr, /INTERNAL/);
  assert.doesNotMatch(result.stderr, /retrying/);
  assert.match(serverLog, /home-moved/);
}

test('a server home swapped while the server runs does not admit whom its replacement allows', async (t) => {
  const { rig, otherHome, swap } = await homeSwapRig(t, async (planted, otherId) => {
    assert.equal((await runFerry(['--home', planted, 'allow', otherId])).code, 0);
  });
  const list = (home: string) =>
    runFerry(['--home', home, 'ls', `${rig.server.address}/`, '--expect', rig.serverId]);
  assert.equal((await list(rig.clientHome)).code, 0, 'the allowed client lists');
  assert.notEqual((await list(otherHome)).code, 0, 'the other key is not allowed');
  await swap();
  const after = await list(otherHome);
  // Before: admitted by the replacement's allow-list, exit 0 and the root listed.
  assert.notEqual(after.code, 0, `the other key was admitted: ${after.stdout}`);
  assert.doesNotMatch(after.stdout, /public\.txt/);
  assertRefusedForMovedHome(after, rig.server.stderr);
});

test('a server home swapped while the server runs does not pair with its replacement`s invite', async (t) => {
  let code = '';
  const { rig, otherHome, swap } = await homeSwapRig(t, async (planted) => {
    const made = await runFerry(['--home', planted, 'invite', '--json']);
    assert.equal(made.code, 0, made.stderr);
    code = (JSON.parse(made.stdout) as { code: string }).code;
  });
  await swap();
  const codeFile = join(rig.dir, 'code.txt');
  await writeFile(codeFile, `${code}\n`, { mode: 0o600 });
  const paired = await runFerry(['--home', otherHome, 'pair', rig.server.address, '--code-file', codeFile]);
  // Before: paired with the planted invite and admitted, exit 0.
  assert.notEqual(paired.code, 0, `paired: ${paired.stderr}`);
  assertRefusedForMovedHome(paired, rig.server.stderr);
});
