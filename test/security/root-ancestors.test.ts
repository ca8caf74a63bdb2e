// A server's root below a directory others may write (stop 43, the sibling of home-ancestors): the root and
// the server's state under it were checked, never the directories above it, so whoever may write one of them
// renamed the root away before the next start and put a link in its place to another directory the server's
// user owns (`~/.ssh`): the server served it, and an allowed client with read permission downloaded its keys.
// Now the root and every directory above it (on the path as given and on its real path) must be the server
// user's or root's and writable by no one else, but for sticky ones (/tmp) and the user's own primary group:
// ROOT_UNSAFE, exit 3, before it listens. The CLI is spawned on real files; the attacker is uid 65534, so the
// test needs root (skipped otherwise).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lchown, mkdir, readFile, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe } from '../helpers/cli.js';
import { refuseUnlessAncestorsOurs } from '../../src/home/index.js';
import { DIRECTORY_TRUST_CASES, OTHER_UID } from '../helpers/directory-trust-cases.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const asRoot = process.geteuid?.() === 0;
const skip = !asRoot && 'needs root to hand directories to another uid';

/** `ferry serve` on `root`, or its failure to start (the error carries its stderr). */
async function serve(home: string, root: string): Promise<Awaited<ReturnType<typeof startServe>> | Error> {
  return startServe(['--home', home, '--root', root, '--log-level', 'warn']).catch(
    (err: unknown) => err as Error,
  );
}

async function keygen(home: string): Promise<string> {
  const made = await runFerry(['--home', home, 'keygen']);
  assertExit(made, 0, `keygen in ${home}`);
  return made.stdout.trim();
}

/**
 * A work directory holding `shared` (mode 0777, uid 65534's to write), the server user's own private
 * directory (as ~/.ssh, holding `id_ed25519`), a server home allowing a client, and the check that a start on
 * a swapped root is refused: a server that started is asked for the key, and the test fails with what the
 * client received.
 */
async function theftSetUp(t: TestContext): Promise<{
  work: string;
  shared: string;
  secret: string;
  serverHome: string;
  assertNotServed: (started: Awaited<ReturnType<typeof serve>>, what: string) => Promise<Error>;
}> {
  const work = await makeTempDir('ferry-root-ancestors-');
  t.after(() => removeTempDir(work));
  const shared = join(work, 'shared');
  await mkdir(shared);
  await chmod(shared, 0o777);
  const secret = join(work, 'ssh');
  await mkdir(secret, { mode: 0o700 });
  await writeFile(join(secret, 'id_ed25519'), 'PRIVATE KEY\n', { mode: 0o600 });
  const clientHome = join(work, 'client-home');
  const serverHome = join(work, 'server-home');
  const clientId = await keygen(clientHome);
  const serverId = await keygen(serverHome);
  assertExit(await runFerry(['--home', serverHome, 'allow', clientId]), 0, 'allow');
  const assertNotServed = async (
    started: Awaited<ReturnType<typeof serve>>,
    what: string,
  ): Promise<Error> => {
    if (started instanceof Error) return started;
    t.after(() => started.stop());
    const got = await runFerry([
      '--home',
      clientHome,
      'get',
      `${started.address}/id_ed25519`,
      join(work, 'got'),
      '--expect',
      serverId,
    ]);
    const leaked = await readFile(join(work, 'got'), 'utf8').catch(() => '(nothing)');
    assert.fail(`the server served ${what}: get exit ${got.code}, received ${leaked.trim()}`);
  };
  return { work, shared, secret, serverHome, assertNotServed };
}

function assertRefusedAt(started: unknown, dir: string, what: string): void {
  assert.ok(started instanceof Error, `${what}: the server started`);
  assert.match(started.message, /exited \(code 3\)/, what);
  assert.match(started.message, /ROOT_UNSAFE/, what);
  assert.ok(started.message.includes(`${dir},`), `${what}: ${started.message}`);
}

test(
  "a root swapped for a link to another of the server user's directories is refused before it is served",
  { skip },
  async (t) => {
    const { shared, secret, serverHome, assertNotServed } = await theftSetUp(t);
    const root = join(shared, 'root');
    await mkdir(root);
    // What uid 65534 may do in `shared` before the server's next start: rename the root away, link its choice there.
    await rename(root, join(shared, 'old'));
    await symlink(secret, root);
    await lchown(root, OTHER_UID, OTHER_UID);
    // Before: the server started on the swapped root and the client got the key.
    const again = await assertNotServed(await serve(serverHome, root), 'the swapped root');
    // The link is uid 65534's, the first thing met; once it is gone, `shared` itself (mode 0777).
    assertRefusedAt(again, root, 'a root swapped for a link of uid 65534');
    assert.match(again.message, /a link owned by uid 65534/);
    await rename(root, join(shared, 'the-link'));
    await rename(join(shared, 'old'), root);
    assertRefusedAt(await serve(serverHome, root), shared, 'a root below a directory of mode 0777');
  },
);

test(
  'a root and the directories above it: sticky and own-group ones pass, others refused',
  { skip },
  async (t) => {
    const work = await makeTempDir('ferry-root-ancestors-');
    t.after(() => removeTempDir(work));
    const home = join(work, 'server-home');
    assertExit(await runFerry(['--home', home, 'keygen']), 0, 'keygen');
    for (const [i, c] of DIRECTORY_TRUST_CASES.entries()) {
      // The directory above the root, then the root itself (`--root` of a directory others may write).
      for (const itself of [false, true]) {
        const above = join(work, `case-${i}-${itself ? 'root' : 'above'}`);
        const root = join(above, 'root');
        await mkdir(root, { recursive: true });
        const judged = itself ? root : above;
        await c.prepare(judged);
        const started = await serve(home, root);
        const what = `${c.what} (${itself ? 'the root' : 'above it'})`;
        if (started instanceof Error) {
          if (c.refused) assertRefusedAt(started, judged, what);
          else assert.fail(`${what}: ${started.message}`);
        } else {
          await started.stop();
          assert.ok(!c.refused, `${what}: the server started`);
        }
      }
    }
  },
);

test(
  'a root reached through a chain of links, one in a directory others may write, is refused (stop 44)',
  { skip },
  async (t) => {
    // `--root ~/data`, where ~/data links to a release link in a shared directory (a deploy's `current`):
    // neither the path as given nor the real path passes through `shared`, which holds the middle link.
    const { work, shared, secret, serverHome, assertNotServed } = await theftSetUp(t);
    const served = join(work, 'served');
    await mkdir(served);
    const current = join(shared, 'current');
    await symlink(served, current);
    const root = join(work, 'root');
    await symlink(current, root);
    // What uid 65534 may do in `shared` before the server's next start: point the middle link elsewhere.
    await rename(current, join(shared, 'old'));
    await symlink(secret, current);
    await lchown(current, OTHER_UID, OTHER_UID);
    // Before: the server started on the swapped chain and the client got the key.
    const again = await assertNotServed(await serve(serverHome, root), 'the swapped chain');
    // Refused for `shared`, met on the way before the link in it, which is uid 65534's.
    assertRefusedAt(again, shared, 'a middle link re-pointed by uid 65534');
    assert.match(again.message, /on the way to the server root .*writable by others/);
    await chmod(shared, 0o755);
    const linkRefused = await serve(serverHome, root);
    assertRefusedAt(linkRefused, current, 'a middle link of uid 65534');
    assert.match((linkRefused as Error).message, /a link owned by uid 65534/);
    // The chain as the operator made it (every link root's), in a directory only root writes: served.
    await unlink(current);
    await rename(join(shared, 'old'), current);
    const fixed = await serve(serverHome, root);
    if (fixed instanceof Error) assert.fail(`the chain of root's links: ${fixed.message}`);
    await fixed.stop();
  },
);

test(
  'a root given through `link/..` is judged where the kernel leads, not by its letters (stop 44)',
  { skip },
  async (t) => {
    // `resolve` reads `work/lnk/../root` as `work/root`; the kernel climbs from lnk's target: `shared/root`.
    const work = await makeTempDir('ferry-root-ancestors-');
    t.after(() => removeTempDir(work));
    const shared = join(work, 'shared');
    await mkdir(join(shared, 'sub'), { recursive: true });
    await mkdir(join(shared, 'root'));
    await chmod(shared, 0o777);
    await mkdir(join(work, 'root'));
    await symlink(join(shared, 'sub'), join(work, 'lnk'));
    const given = `${work}/lnk/../root`;
    await assert.rejects(
      refuseUnlessAncestorsOurs(given, { code: 'ROOT_UNSAFE', name: 'the server root', itself: true }),
      (err: Error) => err.message.includes(`${shared},`) && /writable by others/.test(err.message),
      'before: passed on work/root, while the server would serve shared/root',
    );
  },
);
