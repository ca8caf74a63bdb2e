// End to end: a command given `--home DIR` that holds no identity said "run `ferry keygen` first", and that
// command, run as printed, made the identity in the default home: the next try failed the same way. The
// error now names the keygen for the home the command read (quoted for the shell when it needs it), and
// `serve` its own `--init`; running what it names makes the command work. Never runs a command without a
// home of the test's own (the developer's ~/.config/ferry is never touched).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { assertExit, FERRY_BIN, ferryEnv, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;

before(async () => {
  dir = await makeTempDir('ferry-e2e-keygen-hint-');
  await mkdir(join(dir, 'root'));
});

after(async () => {
  await removeTempDir(dir);
});

/** The keygen command the error names, as argv after `ferry` (its home is one shell word, maybe quoted). */
function namedKeygen(stderr: string): string[] {
  const match = /`ferry --home ('[^']*'|\S+) keygen`/.exec(stderr);
  assert.ok(match, `names a keygen with --home:\n${stderr}`);
  const home = match[1]!.startsWith("'") ? match[1]!.slice(1, -1) : match[1]!;
  return ['--home', home, 'keygen'];
}

test('send with --home (before or after the command) names the keygen of that home; running it works', async () => {
  for (const [name, where] of [
    ['home-a', 'before'],
    ['home b', 'after'],
  ] as const) {
    const home = join(dir, name);
    const args = ['send', join(dir, 'x'), '127.0.0.1:1'];
    const result = await runFerry(where === 'before' ? ['--home', home, ...args] : [...args, '--home', home]);
    assertExit(result, 3, `send --home ${where}`);
    assert.match(result.stderr, /^ferry: KEY_NOT_FOUND: /);
    assert.deepEqual(namedKeygen(result.stderr), ['--home', home, 'keygen']);
    assertExit(await runFerry(namedKeygen(result.stderr)), 0, 'the keygen it names');
    assertExit(await runFerry(['--home', home, 'id']), 0, 'an identity is now in that home');
  }
});

test('serve names the keygen of its home and --init; with $FERRY_HOME, --init alone', async () => {
  const home = join(dir, 'server-home');
  const serve = ['serve', '--root', join(dir, 'root'), '--listen', '127.0.0.1:0'];
  const given = await runFerry(['--home', home, ...serve]);
  assertExit(given, 3, 'serve --home without an identity');
  assert.ok(
    given.stderr.endsWith(
      `identity.key does not exist; run \`ferry --home ${home} keygen\` first, or start the server with --init\n`,
    ),
    given.stderr,
  );

  const fromEnv = await runFerry(serve, { env: { FERRY_HOME: home } });
  assertExit(fromEnv, 3, 'serve with $FERRY_HOME without an identity');
  assert.ok(
    fromEnv.stderr.endsWith(
      'identity.key does not exist; run `ferry keygen` first, or start the server with --init\n',
    ),
    fromEnv.stderr,
  );
  assert.doesNotMatch(fromEnv.stderr, /--home/, 'plain `ferry keygen` reads $FERRY_HOME too');
});

test('from a fresh clone (no `ferry` on the PATH) the hint names ./bin/ferry, and pasted into sh there it works', async () => {
  const checkout = dirname(dirname(FERRY_BIN));
  // node's own directory for the `node` bin/ferry's launcher execs, and no ferry.
  const env = { PATH: [dirname(process.execPath), '/usr/bin', '/bin'].join(delimiter) };
  const home = join(dir, 'clone-home');
  const args = ['--home', home, 'send', join(dir, 'x'), '127.0.0.1:1'];
  const result = await runFerry(args, { cwd: checkout, env });
  assertExit(result, 3, 'send from the checkout');
  const command = /run `(\.\/bin\/ferry --home \S+ keygen)` first/.exec(result.stderr)?.[1];
  assert.ok(command, result.stderr);
  await promisify(execFile)('sh', ['-c', command], { cwd: checkout, env: ferryEnv(env) });
  assertExit(await runFerry(['--home', home, 'id'], { cwd: checkout, env }), 0, 'the pasted keygen made it');
});
