// End to end: more of what rsync and scp users type out of habit, refused before any connection with what
// ferry does instead (src/cli/familiar-flag-hint.ts), not a bare "unknown option": rsync's `-r` and
// `--include`, `--mkpath` and `--rsh` on `sync`, scp's `-i KEY` and `-l LIMIT` and rsync's `--progress` on
// `send` and `get`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('ferry-e2e-familiar-flags-');
});
after(() => removeTempDir(dir));

for (const [args, hint] of [
  [['sync', '-r', 'src', '127.0.0.1/m'], 'ferry sync always mirrors the whole tree: leave out -r'],
  [
    ['sync', '--include', '*.c', 'src', '127.0.0.1/m'],
    'ferry sync has --exclude but no include rules: exclude what to leave out, or sync a narrower directory',
  ],
  [
    ['send', '-i', 'key.pem', 'f', '127.0.0.1/'],
    "ferry's identity is the one in its home, made by ferry keygen: --home DIR picks another",
  ],
  [
    ['get', '--progress', '127.0.0.1/f'],
    'ferry shows progress by itself: bars on a terminal, elsewhere a line every 30 s (--progress-every): leave it out',
  ],
  [
    ['sync', '--mkpath', 'src', '127.0.0.1/a/b'],
    'ferry sync makes a missing DST and the directories above it: leave it out',
  ],
  [
    ['sync', '--rsh', 'ssh', 'src', '127.0.0.1/m'],
    'ferry makes its own encrypted connection, no ssh: give HOST[:PORT] in the path',
  ],
  [['send', '-l', '800', 'f', '127.0.0.1/'], 'ferry has no bandwidth limit: leave out -l'],
] as const) {
  test(`\`ferry ${args.join(' ')}\` says what ferry does instead`, async () => {
    const result = await runFerry(['--home', dir, ...args], { cwd: dir });
    assertExit(result, 2, args.join(' '));
    const option = args[1];
    assert.equal(
      result.stderr,
      `ferry: USAGE_INVALID: unknown option '${option}' (${hint}); see \`ferry ${args[0]} --help\`\n`,
    );
  });
}
