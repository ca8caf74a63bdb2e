// A client's or server's home owned by another local user (stop 31). The home (FERRY_HOME / --home) holds the
// identity key, the allow-list, the pinned servers and the invites; each was refused only by its mode (a key
// readable by others, a list writable by others). A file another user owns passed whenever its mode was
// tight, yet its owner may `chmod` it back and rewrite it at any time: plant their own key (the victim then
// speaks as the planter's identity), allow themselves, or pin their own server for an address. A home
// directory another user owns, or one others may write, lets them rename their own files in under these
// names. OpenSSH's secure_path refuses both (owner the user or root); ferry now does too (HOME_UNSAFE, a
// configuration error naming the path). The CLI (bin/ferry) is spawned on real files; the other user is uid
// 65534, so the test needs root to hand the files over (skipped otherwise).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ALLOW_LIST_FILE,
  IDENTITY_KEY_FILE,
  INVITES_FILE,
  KNOWN_SERVERS_FILE,
} from '../../src/home/index.js';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** The other local user (nobody). */
const OTHER_UID = 65534;
const asRoot = process.geteuid?.() === 0;
const skip = !asRoot && 'needs root to give files to another uid';
/** The CLI's exit status for a configuration error (errors/exit-codes.ts). */
const EXIT_CONFIG = 3;
const CLIENT_ID = (async () => (await runFerry(['keygen', '--home', await makeTempDir()])).stdout.trim())();

/** A home with an identity, one allowed client, one pinned server and one invite, all the user's own. */
async function home(t: TestContext): Promise<string> {
  const dir = await makeTempDir();
  t.after(() => removeTempDir(dir));
  const id = await CLIENT_ID;
  assertExit(await runFerry(['keygen', '--home', dir]), 0, 'keygen');
  assertExit(await runFerry(['allow', id, '--home', dir]), 0, 'allow');
  assertExit(await runFerry(['trust', '127.0.0.1:7999', id, '--home', dir]), 0, 'trust');
  assertExit(await runFerry(['invite', '--address', '127.0.0.1:7999', '--home', dir]), 0, 'invite');
  return dir;
}

/** Runs `args` in `dir` and checks it is refused with HOME_UNSAFE naming `named`. */
async function assertRefused(dir: string, args: string[], named: string, what: string): Promise<void> {
  const result = await runFerry([...args, '--home', dir]);
  assertExit(result, EXIT_CONFIG, what);
  assert.match(result.stderr, /HOME_UNSAFE/, `${what}: the code is named: ${result.stderr}`);
  assert.ok(result.stderr.includes(named), `${what}: ${named} is named: ${result.stderr}`);
}

const COMMANDS: readonly { file: string; args: (id: string) => string[]; what: string }[] = [
  { file: IDENTITY_KEY_FILE, args: () => ['id'], what: '`ferry id` reading the identity key' },
  { file: ALLOW_LIST_FILE, args: () => ['clients'], what: '`ferry clients` reading the allow-list' },
  { file: INVITES_FILE, args: () => ['invites'], what: '`ferry invites` reading the invites' },
  {
    file: KNOWN_SERVERS_FILE,
    args: (id) => ['trust', '127.0.0.1:7998', id],
    what: '`ferry trust` reading the pinned servers',
  },
];

test("the user's own home (0700, files 0600) is accepted by every command", async (t) => {
  const dir = await home(t);
  const id = await CLIENT_ID;
  for (const c of COMMANDS) assertExit(await runFerry([...c.args(id), '--home', dir]), 0, c.what);
});

test('a home file another user owns is refused though its mode is 0600', { skip }, async (t) => {
  const dir = await home(t);
  const id = await CLIENT_ID;
  for (const c of COMMANDS) {
    const path = join(dir, c.file);
    await chown(path, OTHER_UID, OTHER_UID);
    await assertRefused(dir, c.args(id), path, c.what);
    await chown(path, 0, 0);
    assertExit(await runFerry([...c.args(id), '--home', dir]), 0, `${c.what}, root's again`);
  }
});

test(
  "a home directory another user owns is refused, with every file in it the user's own",
  { skip },
  async (t) => {
    const dir = await home(t);
    const id = await CLIENT_ID;
    await chown(dir, OTHER_UID, OTHER_UID);
    for (const c of COMMANDS) await assertRefused(dir, c.args(id), dir, c.what);
  },
);

test('a home directory others may write is refused', { skip }, async (t) => {
  const dir = await home(t);
  const id = await CLIENT_ID;
  await chmod(dir, 0o770);
  for (const c of COMMANDS) await assertRefused(dir, c.args(id), dir, c.what);
});
