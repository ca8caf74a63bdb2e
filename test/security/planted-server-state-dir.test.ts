// The server's state directory planted before its first start (stop 30). The server keeps its partials in
// `<root>/.ferry/partial` (mode 0700): their logs are not keyed, so whoever may write there can rewrite a
// partial between sessions and have its bytes counted as verified. The directory was made with `mkdir -p`,
// which follows a link: a local user who could write the root before the first start could plant `.ferry`
// (or `.ferry/partial`) as a link to a directory of theirs, or as their own directory, and the server kept its
// partials there. Now the server never follows a link for either, and refuses to start (SERVER_STATE_UNSAFE,
// naming the path) when either is a link, not a directory, another user's or writable by others, as OpenSSH's
// StrictModes. A real server is started on real directories; the other user is uid 65534, so the ownership
// cases need root (they are skipped otherwise).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryError } from '../../src/errors/index.js';
import { FerryServer } from '../../src/server/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** The other local user (nobody). */
const OTHER_UID = 65534;
const asRoot = process.geteuid?.() === 0;

async function rig(t: TestContext): Promise<{ root: string; elsewhere: string }> {
  const dir = await realpath(await makeTempDir('ferry-planted-state-'));
  t.after(() => removeTempDir(dir));
  const root = join(dir, 'srv');
  const elsewhere = join(dir, 'attacker');
  await mkdir(root);
  await mkdir(elsewhere);
  return { root, elsewhere };
}

const start = (root: string): Promise<FerryServer> =>
  FerryServer.start({
    root,
    port: 0,
    identity: generateKeyPair(),
    authorize: () => undefined,
    partialSweepIntervalMs: 0,
  });

async function assertRefused(root: string, path: string): Promise<void> {
  const err = await start(root).then(
    async (server) => {
      await server.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof FerryError, `the server started with ${path} planted`);
  assert.equal(err.code, 'SERVER_STATE_UNSAFE', String(err));
  assert.equal(err.subject, path);
  assert.ok(err.message.includes(path), err.message);
}

test('.ferry or .ferry/partial planted as a link: the server refuses to start and makes nothing there', async (t) => {
  const { root, elsewhere } = await rig(t);
  await symlink(elsewhere, join(root, '.ferry'));
  await assertRefused(root, join(root, '.ferry'));
  assert.deepEqual(await readdir(elsewhere), [], 'nothing was made through the link');

  const { root: root2, elsewhere: elsewhere2 } = await rig(t);
  await mkdir(join(root2, '.ferry'), { mode: 0o700 });
  await symlink(elsewhere2, join(root2, '.ferry', 'partial'));
  await assertRefused(root2, join(root2, '.ferry', 'partial'));
  assert.deepEqual(await readdir(elsewhere2), []);
});

test('.ferry or .ferry/partial planted as a file: refused, naming it', async (t) => {
  const { root } = await rig(t);
  await writeFile(join(root, '.ferry'), 'x');
  await assertRefused(root, join(root, '.ferry'));
  const { root: root2 } = await rig(t);
  await mkdir(join(root2, '.ferry'), { mode: 0o700 });
  await writeFile(join(root2, '.ferry', 'partial'), 'x');
  await assertRefused(root2, join(root2, '.ferry', 'partial'));
});

test('.ferry or .ferry/partial writable by others: refused', async (t) => {
  const { root } = await rig(t);
  await mkdir(join(root, '.ferry'));
  await chmod(join(root, '.ferry'), 0o777);
  await assertRefused(root, join(root, '.ferry'));
  const { root: root2 } = await rig(t);
  await mkdir(join(root2, '.ferry', 'partial'), { recursive: true, mode: 0o700 });
  await chmod(join(root2, '.ferry', 'partial'), 0o770);
  await assertRefused(root2, join(root2, '.ferry', 'partial'));
});

test(
  "another user's .ferry or .ferry/partial: refused",
  { skip: !asRoot && 'needs root to chown' },
  async (t) => {
    const { root } = await rig(t);
    await mkdir(join(root, '.ferry'), { mode: 0o700 });
    await chown(join(root, '.ferry'), OTHER_UID, OTHER_UID);
    await assertRefused(root, join(root, '.ferry'));
    const { root: root2 } = await rig(t);
    await mkdir(join(root2, '.ferry', 'partial'), { recursive: true, mode: 0o700 });
    await chown(join(root2, '.ferry', 'partial'), OTHER_UID, OTHER_UID);
    await assertRefused(root2, join(root2, '.ferry', 'partial'));
  },
);

test('a fresh root gets .ferry and .ferry/partial at 0700; a second start accepts its own', async (t) => {
  const { root } = await rig(t);
  for (let i = 0; i < 2; i++) {
    const server = await start(root);
    await server.close();
  }
  for (const path of [join(root, '.ferry'), join(root, '.ferry', 'partial')])
    assert.equal((await stat(path)).mode & 0o777, 0o700, path);
});
