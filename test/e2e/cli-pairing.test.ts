// End to end: pairing through the real CLI (bin/ferry, compiled dist/) as separate processes on loopback.
// `ferry invite` writes the invite into the home of a `ferry serve` that is already running; `ferry pair`
// reads the code from a file (children never read stdin); afterwards `ferry send` needs no --expect.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatPairingCode, parsePairingCode } from '../../src/crypto/index.js';
import { lookupServer } from '../../src/home/index.js';
import { assertExit, jsonLinesOf, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** Fails with everything the process printed, so a red test explains itself. */

interface Invite {
  code: string;
  expires: string;
  id: string;
}

describe('ferry invite / pair against a running ferry serve', () => {
  let dir: string;
  let serverHome: string;
  let root: string;
  let serverId: string;
  let server: ServeProcess | undefined;
  let homes = 0;

  /** A fresh client home with its own identity. */
  async function clientHome(): Promise<{ home: string; id: string }> {
    const home = join(dir, `client-${++homes}`);
    const result = await runFerry(['--home', home, 'keygen']);
    assertExit(result, 0, 'keygen');
    return { home, id: result.stdout.trim() };
  }

  async function invite(...flags: string[]): Promise<Invite> {
    const result = await runFerry(['--home', serverHome, 'invite', '--json', ...flags]);
    assertExit(result, 0, 'invite --json');
    return JSON.parse(result.stdout) as Invite;
  }

  async function openInviteIds(): Promise<string[]> {
    const result = await runFerry(['--home', serverHome, 'invites', '--json']);
    assertExit(result, 0, 'invites --json');
    return jsonLinesOf<{ id: string }>(result.stdout).map((i) => i.id);
  }

  async function codeFile(code: string): Promise<string> {
    const path = join(dir, `code-${++homes}.txt`);
    await writeFile(path, `${code}\n`, { mode: 0o600 });
    return path;
  }

  before(async () => {
    dir = await makeTempDir('ferry-e2e-pair-');
    serverHome = join(dir, 'server-home');
    root = join(dir, 'root');
    const keygen = await runFerry(['--home', serverHome, 'keygen']);
    assertExit(keygen, 0, 'server keygen');
    serverId = keygen.stdout.trim();
    server = await startServe(['--home', serverHome, '--root', root]);
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test('invite while serve runs, pair --code-file, then send works without --expect or --accept-new', async () => {
    const client = await clientHome();
    const made = await invite('--name', 'laptop', '--permissions', 'upload', '--ttl', '10m');
    assert.match(made.code, /^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    const ttlMs = Date.parse(made.expires) - Date.now();
    assert.ok(ttlMs > 9 * 60_000 && ttlMs <= 10 * 60_000, `expires in ${ttlMs} ms`);
    const listed = await runFerry(['--home', serverHome, 'invites']);
    assertExit(listed, 0, 'invites');
    assert.match(listed.stdout, new RegExp(`^${made.id}  expires ${made.expires}  upload  laptop$`, 'm'));
    assert.ok(!listed.stdout.includes(made.code.slice(4)), 'the listing never shows a code');

    const paired = await runFerry([
      '--home',
      client.home,
      'pair',
      server!.address,
      '--code-file',
      await codeFile(made.code),
    ]);
    assertExit(paired, 0, 'pair');
    assert.equal(paired.stdout, `${serverId}\n`, 'pair prints the server ID alone on stdout');
    assert.match(paired.stderr, /allowed this client \(upload\)/);
    assert.equal(await lookupServer(client.home, server!.address), serverId, 'the server key is pinned');

    const clients = await runFerry(['--home', serverHome, 'clients', '--json']);
    assertExit(clients, 0, 'clients --json');
    assert.deepEqual(
      jsonLinesOf<{ id: string; name?: string; permissions: string[] }>(clients.stdout).map(
        ({ id, name, permissions }) => ({ id, name, permissions }),
      ),
      [{ id: client.id, name: 'laptop', permissions: ['upload'] }],
    );
    assert.deepEqual(await openInviteIds(), [], 'the invite is used up');
    // None left: said on stderr, naming the home (silence read as "nothing" when the home was the wrong one).
    const none = await runFerry(['--home', serverHome, 'invites']);
    assertExit(none, 0, 'invites with none open');
    assert.deepEqual(
      [none.stdout, none.stderr],
      [
        '',
        `no open invite in the home ${serverHome} (\`ferry invite\` there makes one; a server started with another --home has its own)\n`,
      ],
    );

    const source = join(dir, 'hello.txt');
    await writeFile(source, 'paired and sent\n');
    const sent = await runFerry(['--home', client.home, 'send', source, server!.address]);
    assertExit(sent, 0, 'send after pairing');
    assert.equal(await readFile(join(root, 'hello.txt'), 'utf8'), 'paired and sent\n');

    assert.match(server!.stderr, /"event":"paired"/, 'serve logs the pairing');
    assert.ok(!server!.stderr.includes(made.code), 'serve never logs the code');
  });

  test('a wrong code exits 4 (PAIRING_FAILED) and voids the invite: the right code then fails too', async () => {
    const client = await clientHome();
    const made = await invite();
    const parsed = parsePairingCode(made.code);
    const otherSecret = Buffer.from(parsed.secret);
    otherSecret[3] = (otherSecret[3] ?? 0) ^ 0x10;
    parsed.dispose();
    const wrong = formatPairingCode(made.id, otherSecret);

    const first = await runFerry(['--home', client.home, 'pair', server!.address, wrong]);
    assertExit(first, 4, 'pair with a wrong code');
    // The error names the server and the next step (a new code), since the wire cannot say which of
    // wrong, expired or used it was.
    assert.ok(
      first.stderr.includes(
        `ferry: PAIRING_FAILED: pairing failed: the code is wrong, expired or already used: ${server!.address} (from the server); ask the server's operator for a new code (\`ferry invite\` on the server's home)`,
      ),
      first.stderr,
    );
    assert.match(first.stderr, /it was meant for\n$/);
    assert.deepEqual(await openInviteIds(), [], 'one attempt per code');

    const second = await runFerry([
      '--home',
      client.home,
      'pair',
      server!.address,
      '--code-file',
      await codeFile(made.code),
    ]);
    assertExit(second, 4, 'pair with the right code after a wrong one');
    assert.match(second.stderr, /PAIRING_FAILED/);
    assert.equal(await lookupServer(client.home, server!.address), undefined, 'nothing was pinned');
  });

  test('pair refuses a server whose key differs from the pin (exit 4, SERVER_KEY_CHANGED) and leaves the invite open', async () => {
    const client = await clientHome();
    const other = await clientHome();
    assertExit(
      await runFerry(['--home', client.home, 'trust', server!.address, other.id]),
      0,
      'trust a wrong id',
    );
    const made = await invite();
    const result = await runFerry([
      '--home',
      client.home,
      'pair',
      server!.address,
      '--code-file',
      await codeFile(made.code),
    ]);
    assertExit(result, 4, 'pair against a changed key');
    assert.match(result.stderr, /SERVER_KEY_CHANGED/);
    // The command to replace the pin names the home this pair read, not the default one.
    assert.ok(
      result.stderr.includes(
        `; only if the server operator confirms the new id, run \`ferry --home ${client.home} trust ${server!.address} `,
      ),
      result.stderr,
    );
    assert.equal(await lookupServer(client.home, server!.address), other.id, 'pairing never replaces a pin');
    assert.ok((await openInviteIds()).includes(made.id), 'refused before PAIR_HELLO: the invite lives');

    const revoked = await runFerry(['--home', serverHome, 'invite', '--revoke', made.id]);
    assertExit(revoked, 0, 'invite --revoke');
    assert.ok(!(await openInviteIds()).includes(made.id), 'revoked');
  });

  test('a typo in the code exits 2 before connecting and keeps the invite; no code at all on a non-terminal exits 2', async () => {
    const client = await clientHome();
    const made = await invite();
    const typo = made.code.slice(0, -1) + (made.code.endsWith('a') ? 'b' : 'a');
    const result = await runFerry(['--home', client.home, 'pair', server!.address, typo]);
    assertExit(result, 2, 'pair with a typo');
    assert.match(result.stderr, /PAIRING_CODE_INVALID/);
    assert.ok((await openInviteIds()).includes(made.id), 'a typo never reaches the server');

    const none = await runFerry(['--home', client.home, 'pair', server!.address]);
    assertExit(none, 2, 'pair without a code');
    assert.match(none.stderr, /--code-file/);
    assertExit(await runFerry(['--home', serverHome, 'invite', '--revoke', made.id]), 0, 'invite --revoke');
  });

  test('help warns that a code on the command line is visible to other local users', async () => {
    const help = await runFerry(['pair', '--help']);
    assertExit(help, 0, 'pair --help');
    assert.match(help.stdout.replace(/\s+/g, ' '), /visible to other local users/);
    const text = await runFerry(['--home', serverHome, 'invite', '--address', 'files.example:7443']);
    assertExit(text, 0, 'invite (text)');
    assert.match(
      text.stdout,
      /^ {2}(?:ferry|\.\/bin\/ferry) pair files\.example:7443 [a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/m,
    );
    // The invite id is the code's first 5 characters, across the first dash.
    const shown = /^pairing code: ([a-z2-7]{4})-([a-z2-7])/m.exec(text.stdout);
    assert.ok(shown);
    const id = `${shown[1]}${shown[2]}`;
    assertExit(await runFerry(['--home', serverHome, 'invite', '--revoke', id]), 0, 'invite --revoke');
  });
});
