// End to end: `ferry serve --listen NAME:PORT` with a name that does not resolve says so, and what --listen
// takes; it said "cannot listen: foo:7443: failed (enotfound)". Exit 5, as every LISTEN_FAILED.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;

before(async () => {
  dir = await makeTempDir('ferry-cli-listen-unknown-host-');
});

after(() => removeTempDir(dir));

test('serve --listen on a name that does not resolve: LISTEN_FAILED naming it, "unknown host", exit 5', async () => {
  const home = join(dir, 'server-home');
  const root = join(dir, 'root');
  await mkdir(root);
  assertExit(await runFerry(['--home', home, 'keygen']), 0, 'keygen');
  const result = await runFerry([
    ...['--home', home, 'serve', '--root', root, '--listen', 'no-such-host.invalid:7443'],
  ]);
  assertExit(result, 5, 'serve on an unknown host');
  // The machine's resolver says "no such name" (enotfound) or, without one, "not now" (eai_again).
  assert.match(
    result.stderr,
    /^ferry: LISTEN_FAILED: cannot listen: no-such-host\.invalid:7443: (unknown host \(enotfound\); --listen takes an address or name of this machine \(127\.0\.0\.1:7443, \[::\]:7443\)|the name could not be resolved now \(eai_again\); try again, or give an address with --listen)$/m,
  );
});
