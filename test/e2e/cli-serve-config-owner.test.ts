// `ferry serve --config FILE` refuses a file someone else may write (stop 31). The config chooses the root,
// the coordination service (whose allow-list then admits clients) and every limit, yet it was read whatever
// its mode or owner: a serve.json that group or others may write, or that another local user owns (who may
// `chmod` it back at any time), let them point the server at a root or an etcd of theirs. Now it is refused as
// the home's files are (OpenSSH's StrictModes): CONFIG_INVALID, exit 3, naming the file, before the server
// listens. The CLI is spawned; the other user is uid 65534, so that case needs root (skipped otherwise).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** The CLI's exit status for a configuration error (errors/exit-codes.ts). */
const EXIT_CONFIG = 3;
const asRoot = process.geteuid?.() === 0;

async function rig(t: TestContext): Promise<{ home: string; config: string }> {
  const dir = await makeTempDir('ferry-serve-config-owner-');
  t.after(() => removeTempDir(dir));
  const home = join(dir, 'home');
  await mkdir(join(dir, 'conf'));
  const config = join(dir, 'conf', 'serve.json');
  await writeFile(config, JSON.stringify({ root: '../root', listen: '127.0.0.1:0' }), { mode: 0o644 });
  return { home, config };
}

async function assertRefused(home: string, config: string, what: string): Promise<void> {
  const result = await runFerry(['--home', home, 'serve', '--init', '--config', config]);
  assertExit(result, EXIT_CONFIG, what);
  assert.match(result.stderr, /CONFIG_INVALID/, `${what}: ${result.stderr}`);
  assert.ok(result.stderr.includes(config), `${what}: the file is named: ${result.stderr}`);
}

test('a serve config only its owner may write is used', async (t) => {
  const { home, config } = await rig(t);
  const server = await startServe(['--home', home, '--init', '--config', config]);
  t.after(() => server.stop());
});

test('a serve config group or others may write is refused before the server listens', async (t) => {
  const { home, config } = await rig(t);
  for (const mode of [0o666, 0o664]) {
    await chmod(config, mode);
    await assertRefused(home, config, `mode 0${mode.toString(8)}`);
  }
});

test(
  'a serve config another user owns is refused though its mode is 0644',
  { skip: !asRoot && 'needs root to give a file to another uid' },
  async (t) => {
    const { home, config } = await rig(t);
    await chown(config, 65534, 65534);
    await assertRefused(home, config, 'owned by uid 65534');
  },
);
