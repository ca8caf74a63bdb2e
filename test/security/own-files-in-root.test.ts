// `ferry serve` refuses a root that holds its home ("Root and home kept apart"), but not one that holds its
// other files: the settings it was started with (`--config`) and its log (`--log-file`). A client that may
// upload could rewrite a config inside the root (written by the server's user, mode 0644: it passes the
// config's owner and mode checks) with a root of `/` or an etcd of its own, for the next start; one that may
// download could read the log (every client's paths and addresses). Now either inside the root is refused,
// CONFIG_INVALID (exit 3) naming the file, before the server listens. The CLI is spawned.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startServe } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

async function rig(t: TestContext): Promise<{ dir: string; home: string; root: string }> {
  const dir = await makeTempDir('ferry-own-files-in-root-');
  t.after(() => removeTempDir(dir));
  const root = join(dir, 'root');
  await mkdir(root);
  return { dir, home: join(dir, 'home'), root };
}

/** Starts `ferry serve` with `args`: it must exit with CONFIG_INVALID naming `file`, never listen. */
async function assertRefused(t: TestContext, args: string[], file: string): Promise<void> {
  const started = startServe(args);
  const listening = await started.then(
    (server) => {
      t.after(() => server.stop());
      return true;
    },
    (err: unknown) => {
      const text = String(err);
      assert.match(text, /exited \(code 3\) before listening/);
      assert.match(text, /CONFIG_INVALID/);
      assert.ok(text.includes(file), text);
      return false;
    },
  );
  assert.equal(listening, false, 'the server started with its own file inside its root');
}

test('a --config file inside the root is refused before the server listens', async (t) => {
  const { home, root } = await rig(t);
  const config = join(root, 'serve.json');
  await writeFile(config, JSON.stringify({ root: '.', listen: '127.0.0.1:0' }), { mode: 0o644 });
  await assertRefused(t, ['--home', home, '--init', '--config', config], config);
});

test('a --log-file inside the root is refused before the server listens', async (t) => {
  const { home, root } = await rig(t);
  const log = join(root, 'logs', 'ferry.log');
  await assertRefused(t, ['--home', home, '--init', '--root', root, '--log-file', log], log);
});

test('a config and a log beside the root, not in it, are used', async (t) => {
  const { dir, home } = await rig(t);
  const config = join(dir, 'serve.json');
  await writeFile(config, JSON.stringify({ root: 'root', listen: '127.0.0.1:0' }), { mode: 0o644 });
  const server = await startServe([
    '--home',
    home,
    '--init',
    '--config',
    config,
    '--log-file',
    join(dir, 'ferry.log'),
  ]);
  t.after(() => server.stop());
});
