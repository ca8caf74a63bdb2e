// End to end: a mistyped `--expect ID` is refused before connecting, naming the flag and where the right ID
// is. It was checked only against the key the server offered, so it cost a connection and read as if the
// server's address were the bad ID (`not a valid ferry id: 127.0.0.1:7443: expected 54 characters ...`, a
// new user's pass); with nothing listening it was reported as CONNECT_FAILED instead.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const WHERE = "ask the server's operator for its ID (`ferry id` there, or the id: line of `ferry serve`)";
/** Nothing listens on port 1: a command that connected would fail with CONNECT_FAILED. */
const NOWHERE = '127.0.0.1:1';

let dir: string;
let home: string;
let id: string;
before(async () => {
  dir = await makeTempDir('ferry-e2e-expect-typo-');
  home = join(dir, 'home');
  const keygen = await runFerry(['--home', home, 'keygen']);
  assertExit(keygen, 0, 'keygen');
  id = keygen.stdout.trim();
});
after(() => removeTempDir(dir));

for (const [args, detail] of [
  [['send', 'f.txt', NOWHERE, '--expect', 'abc'], 'expected 54 characters (not counting dashes), got 3'],
  [['get', `${NOWHERE}/f.txt`, '--expect', 'abc'], 'expected 54 characters (not counting dashes), got 3'],
  [['ls', NOWHERE, '--expect', 'abc'], 'expected 54 characters (not counting dashes), got 3'],
  [['sync', '.', `${NOWHERE}/m`, '--expect', 'abc'], 'expected 54 characters (not counting dashes), got 3'],
] as const) {
  test(`\`ferry ${args.join(' ')}\` names --expect, before connecting`, async () => {
    const result = await runFerry(['--home', home, ...args], { cwd: dir });
    assertExit(result, 3, args.join(' '));
    assert.equal(result.stderr, `ferry: ID_INVALID: not a valid ferry id: --expect: ${detail}; ${WHERE}\n`);
  });
}

test('an ID with one character changed is named as a typo in --expect', async () => {
  const typo = `${id.slice(0, -1)}${id.endsWith('a') ? 'b' : 'a'}`;
  const result = await runFerry(['--home', home, 'ls', NOWHERE, '--expect', typo]);
  assertExit(result, 3, 'ls --expect TYPO');
  assert.match(result.stderr, /^ferry: ID_INVALID: not a valid ferry id: --expect: .*typo/);
  assert.ok(result.stderr.endsWith(`; ${WHERE}\n`), result.stderr);
});
