// End to end: `-` is not standard input or output to ferry, and says so before connecting: `get SRC -` made
// a file called `-` (nothing on stdout for `| tar x`), `send -` said "no such file". `./-` still names a
// file called `-`. No server is needed, since nothing may connect.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
before(async () => {
  dir = await makeTempDir('ferry-e2e-standard-streams-');
});
after(() => removeTempDir(dir));

for (const [args, message] of [
  [
    ['send', '-', '127.0.0.1:1/backup.tar'],
    '- (standard input) cannot be sent: ferry sends files, verified and resumable; save the stream to a file first (./- names a file called -)',
  ],
  [
    ['get', '127.0.0.1:1/backup.tar', '-'],
    '- (standard output) cannot be written: ferry writes files, verified and resumable; name a file, then read it (./- names a file called -)',
  ],
] as const) {
  test(`\`ferry ${args.join(' ')}\` is refused before connecting, saying why`, async () => {
    const result = await runFerry(['--home', dir, ...args], { cwd: dir });
    assertExit(result, 2, args.join(' '));
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, `ferry: USAGE_INVALID: invalid usage: ${message}\n`);
    assert.deepEqual(await readdir(dir), [], 'no file called - was made');
  });
}
