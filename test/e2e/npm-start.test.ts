// End to end: `npm start`, the README's first command after `npm ci`, as a user runs it (npm, the package's
// start script, scripts/start.mjs, `ferry serve`). It rebuilt everything on every start (tsc and the CLI
// bundle: ~16 CPU s, 40-80 s on a loaded 2-core machine) before the server said a word; on a build that is up
// to date it now starts the server at once, leaves the build as it is, and the banner says what to do next.
// Its own ports and directories (extra arguments pass through); its process group dies with the test.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { spawnDaemon, tieProcessGroup } from '../../scripts/cluster/daemon-process.js';
import { ferryEnv } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What `npm run build` writes last (scripts/build-state.mjs). */
const BUILT = join(ROOT, 'dist', 'cli-bundle', 'main.cjs.cache');

/** A running `npm start -- ARGS` in its own process group, with what it wrote so far. */
interface NpmStart {
  child: ChildProcess;
  exited: Promise<unknown[]>;
  dir: string;
  readonly stderr: string;
}

/**
 * Spawns `npm start -- ARGS --root DIR/data` with `$FERRY_HOME` in a new temp dir; `t.after` ends its group.
 * Never on a stale build: start.mjs would rebuild dist/ under the other tests.
 */
async function npmStart(t: TestContext, args: readonly string[]): Promise<NpmStart> {
  const fresh = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "process.exit((await import('./scripts/build-state.mjs')).buildIsStale() ? 1 : 0)",
    ],
    { cwd: ROOT },
  );
  assert.equal(fresh.status, 0, 'dist/ is older than src/: run `npm run build` before the tests');
  const dir = await makeTempDir('ferry-e2e-npm-start-');
  const child = spawnDaemon('npm', ['start', '--', ...args, '--root', join(dir, 'data')], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: ferryEnv({ FERRY_HOME: join(dir, 'home'), NO_COLOR: '1' }),
  });
  const release = tieProcessGroup(child.pid!);
  const exited = once(child, 'exit');
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
    release();
    await removeTempDir(dir);
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return {
    child,
    exited,
    dir,
    get stderr() {
      return stderr;
    },
  };
}

test('npm start on an up-to-date build starts the server without building, says what to do next, and stops on Ctrl-C', async (t) => {
  const builtAt = (await stat(BUILT)).mtimeMs;
  const started = await npmStart(t, ['--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0']);
  const { child, exited, dir } = started;
  let stdout = '';
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      stdout += `${line}\n`;
      if (/^Watch it: /.test(line)) resolve();
    });
    void exited.then(() =>
      reject(new Error(`npm start exited before its banner:\n${stdout}\n${started.stderr}`)),
    );
  });
  assert.match(started.stderr, /ferry: the build is up to date with src\//, started.stderr);
  assert.doesNotMatch(stdout + started.stderr, /tsc -p|bundle-cli/, 'no build ran');
  assert.equal((await stat(BUILT)).mtimeMs, builtAt, 'the build is left as it was');
  assert.ok(stdout.includes(join(dir, 'home')), `serves the home of $FERRY_HOME:\n${stdout}`);
  // To a pipe the banner gives the page's address and the file with its token (a terminal gets the token).
  assert.match(stdout, /^ {2}dashboard: {2}http:\/\/127\.0\.0\.1:\d+\/$/m, stdout);
  assert.doesNotMatch(stdout, /token=/, stdout);
  assert.match(stdout, /^Next, let a client in\./m, stdout);

  // Ctrl-C with the dashboard open in a browser: the terminal signals the whole process group, and npm and
  // start.mjs pass it on to their child too; the server, still closing the dashboard's live stream when a
  // repeat came, was killed by it halfway through stopping ('server stopped' never logged).
  const url = (await readFile(join(dir, 'home', 'dashboard-url'), 'utf8')).trim().replace('/?', '/events?');
  const stream = await fetch(url);
  assert.equal(stream.status, 200);
  process.kill(-child.pid!, 'SIGINT');
  // npm itself then ends by the signal, as a process a Ctrl-C stopped does: only the server's log is ours,
  // read to its end, once every process of the group has let go of the pipe.
  await Promise.all([exited, once(child.stderr!, 'end')]);
  await stream.body?.cancel().catch(() => undefined);
  const events = started.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { event?: string }).event);
  assert.deepEqual(events.slice(-2), ['stopping', 'stopped'], started.stderr);
});

test('npm start on a port in use says that its flags go after --', async (t) => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.after(() => taken.close());
  const { port } = taken.address() as AddressInfo;
  const started = await npmStart(t, ['--listen', `127.0.0.1:${port}`, '--dashboard', '127.0.0.1:0']);
  await Promise.all([started.exited, once(started.child.stderr!, 'end')]);
  const lines = started.stderr.trimEnd().split('\n');
  assert.match(
    lines.at(-2)!,
    /^ferry: LISTEN_FAILED: cannot listen: .* choose another address with --listen/,
  );
  assert.equal(
    lines.at(-1),
    'ferry: npm start passes what follows `--` on to ferry serve: npm start -- --listen 127.0.0.1:7444 --dashboard 127.0.0.1:7081',
  );
});
