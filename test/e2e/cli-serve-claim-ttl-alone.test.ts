// End to end: `ferry serve --claim-ttl` without `--coordination` and `--store` claims no transfers, so the
// flag would change nothing: it is refused before the server loads its identity or listens (exit 2), rather
// than ignored without a word. The rules' cases are in test/cli/coordination-flags.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;

before(async () => {
  dir = await makeTempDir('ferry-e2e-claim-ttl-');
});

after(async () => {
  await removeTempDir(dir);
});

test('serve --claim-ttl without --coordination is refused, on the command line and in a config file', async () => {
  // The home holds no identity: a serve that got past the flags would fail on that instead.
  const home = join(dir, 'home');
  const flag = await runFerry(['--home', home, 'serve', '--claim-ttl', '10s', '--listen', '127.0.0.1:0']);
  assertExit(flag, 2, 'serve --claim-ttl');
  assert.match(flag.stderr, /^ferry: USAGE_INVALID: .*--claim-ttl needs --coordination and --store/m);

  const config = join(dir, 'serve.json');
  await writeFile(config, JSON.stringify({ 'claim-ttl': '10s' }));
  const fromFile = await runFerry(['--home', home, 'serve', '--config', config, '--listen', '127.0.0.1:0']);
  assertExit(fromFile, 2, 'serve --config with claim-ttl');
  assert.match(fromFile.stderr, /--claim-ttl needs --coordination and --store/);

  const withoutStore = await runFerry([
    '--home',
    home,
    'serve',
    '--claim-ttl',
    '10s',
    '--coordination',
    'etcd://127.0.0.1:1',
    '--listen',
    '127.0.0.1:0',
  ]);
  assertExit(withoutStore, 2, 'serve --claim-ttl --coordination without --store');
  assert.match(withoutStore.stderr, /--claim-ttl needs --store too/);
});
