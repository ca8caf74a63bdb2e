// A home below a directory others may write (stop 43): only the home and its files were checked (stop 31), so
// whoever may write a directory above it renamed the home away and put a link in its place to a directory the
// user owns and the attacker filled (a download of theirs: its files are the user's own), and every check of
// the home passed there: the process spoke with the planted key and admitted whom it listed. Now every
// directory above the home (on the path as given and on its real path) must be the user's or root's and
// writable by no one else, but for sticky ones (/tmp) and the user's own primary group: HOME_UNSAFE, exit 3.
// The CLI is spawned on real files; the attacker is uid 65534, so the test needs root (skipped otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lchown, mkdir, rename, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, type CliResult } from '../helpers/cli.js';
import { DIRECTORY_TRUST_CASES, OTHER_UID } from '../helpers/directory-trust-cases.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const asRoot = process.geteuid?.() === 0;
const skip = !asRoot && 'needs root to hand directories to another uid';
/** The CLI's exit status for a configuration error (errors/exit-codes.ts). */
const EXIT_CONFIG = 3;

async function keygen(home: string): Promise<string> {
  const made = await runFerry(['keygen', '--home', home]);
  assertExit(made, 0, `keygen in ${home}`);
  return made.stdout.trim();
}

function assertRefusedAt(result: CliResult, dir: string, what: string): void {
  assertExit(result, EXIT_CONFIG, what);
  assert.match(result.stderr, /HOME_UNSAFE/, what);
  assert.ok(
    result.stderr.includes(`${dir} `) || result.stderr.includes(`${dir},`),
    `${what}: ${result.stderr}`,
  );
}

test(
  'a home swapped for a link by whoever may write the directory above it is refused',
  { skip },
  async (t) => {
    const work = await makeTempDir('ferry-home-ancestors-');
    t.after(() => removeTempDir(work));
    const shared = join(work, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o777);
    const home = join(shared, 'home');
    await keygen(home);
    // The attacker's files, in a directory of the user's own (what a download of theirs leaves).
    const planted = join(work, 'downloads', 'planted');
    const plantedId = await keygen(planted);
    // What uid 65534 may do in `shared`: rename the home away, and put a link of its own in its place.
    await rename(home, join(shared, 'old'));
    await symlink(planted, home);
    await lchown(home, OTHER_UID, OTHER_UID);
    const id = await runFerry(['id', '--home', home]);
    // Before: exit 0 and the planted key's ID.
    assert.ok(!id.stdout.includes(plantedId), 'the planted key was used');
    assertRefusedAt(id, shared, 'a home below a directory of mode 0777');
  },
);

test('directories above the home: sticky and own-group ones pass, others refused', { skip }, async (t) => {
  const work = await makeTempDir('ferry-home-ancestors-');
  t.after(() => removeTempDir(work));
  for (const [i, c] of DIRECTORY_TRUST_CASES.entries()) {
    const above = join(work, `case-${i}`);
    await mkdir(above);
    const home = join(above, 'home');
    await keygen(home);
    await c.prepare(above);
    const id = await runFerry(['id', '--home', home]);
    if (c.refused) assertRefusedAt(id, above, c.what);
    else assertExit(id, 0, c.what);
  }
  // A link on the way, owned by another user in a directory of root's: whoever owns it may point it elsewhere.
  const real = join(work, 'real');
  await keygen(join(real, 'home'));
  const links = join(work, 'links');
  await mkdir(links);
  await symlink(real, join(links, 'to-real'));
  assertExit(await runFerry(['id', '--home', join(links, 'to-real', 'home')]), 0, "a link of root's");
  await lchown(join(links, 'to-real'), OTHER_UID, OTHER_UID);
  assertRefusedAt(
    await runFerry(['id', '--home', join(links, 'to-real', 'home')]),
    join(links, 'to-real'),
    'a link of uid 65534 on the way',
  );
});
