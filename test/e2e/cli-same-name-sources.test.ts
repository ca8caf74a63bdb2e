// End to end: two sources that would land under one name in the destination directory are refused before
// anything connects, naming both, instead of the second failing as "destination exists" once the first is
// placed (a destination the user never had; with --overwrite it would silently replace the first, as scp
// does). Both directions; no server is needed, since nothing may connect.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('ferry-e2e-same-name-');
  for (const sub of ['d1', 'd2']) {
    await mkdir(join(dir, sub));
    await writeFile(join(dir, sub, 'x'), sub);
  }
});
after(() => removeTempDir(dir));

// Port 1 on loopback: a connection attempt would fail as CONNECT_FAILED (exit 5), not as this usage error.
for (const [args, first, second] of [
  [['send', 'd1/x', 'd2/x', '127.0.0.1:1/both/'], 'd1/x', 'd2/x'],
  [['send', '-r', 'd1', 'd2/x', 'd1/', '127.0.0.1:1/'], 'd1', 'd1/'],
  [['get', '127.0.0.1:1/a/x', '127.0.0.1:1/b/x', 'got/'], '127.0.0.1:1/a/x', '127.0.0.1:1/b/x'],
] as const) {
  test(`\`ferry ${args.join(' ')}\` is refused before connecting, naming both sources`, async () => {
    const result = await runFerry(['--home', dir, ...args], { cwd: dir });
    assertExit(result, 2, args.join(' '));
    const name = first.replace(/\/$/, '').split('/').at(-1);
    assert.equal(
      result.stderr,
      `ferry: USAGE_INVALID: invalid usage: ${first} and ${second} would both be stored as ${name} in the destination: transfer them in separate runs or to separate directories\n`,
    );
  });
}
