// End to end: `ferry serve --dashboard` logs where its dashboard listens as the listening line logs the
// server's address, `host:port`. It logged an object, which a terminal showed as
// `address={"host":"127.0.0.1","port":7080}` (npm start's first screen) and a log reader got in two shapes.
// And a log read alone says when the server stopped: on SIGTERM, and when its dashboard could not listen
// after 'server ready' was logged (a new user's pass: nothing said it stopped).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { assertExit, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;
let server: ServeProcess | undefined;

before(async () => {
  dir = await makeTempDir('ferry-e2e-dashboard-log-');
  assertExit(await runFerry(['--home', join(dir, 'home'), 'keygen']), 0, 'keygen');
});

after(async () => {
  await server?.stop();
  await removeTempDir(dir);
});

test('the dashboard line logs its address as host:port, as the listening line does', async () => {
  const home = join(dir, 'home');
  const root = join(dir, 'root');
  server = await startServe(['--home', home, '--root', root, '--init', '--dashboard', '127.0.0.1:0']);
  const stderr = server.process.stderr!;
  // Its log goes to a pipe as JSON lines; the banner on stdout may come first: wait for the line itself.
  while (!server.stderr.includes('"event":"dashboard"') && !stderr.readableEnded)
    await new Promise((resolve) => {
      stderr.once('data', resolve);
      stderr.once('end', resolve);
    });
  const records = server.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { event?: string; address?: unknown });
  const listening = records.find((record) => record.event === 'listening');
  const dashboard = records.find((record) => record.event === 'dashboard');
  assert.equal(listening?.address, server.address);
  assert.equal(typeof dashboard?.address, 'string', server.stderr);
  assert.match(dashboard!.address as string, /^127\.0\.0\.1:\d+$/);
});

/** The JSON log records in `stderr`. */
function records(stderr: string): Array<{ event?: string; reason?: string; signal?: string }> {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { event?: string; reason?: string; signal?: string });
}

test('SIGTERM logs the server stopping and then stopped, last', async () => {
  const home = join(dir, 'home');
  const stopped = await startServe(['--home', home, '--root', join(dir, 'root-stop')]);
  await stopped.stop();
  const events = records(stopped.stderr).map((record) => record.event);
  assert.deepEqual(events.slice(-2), ['stopping', 'stopped'], stopped.stderr);
  assert.equal(records(stopped.stderr).at(-1)?.reason, 'SIGTERM');
});

test('Ctrl-C delivered again while stopping (npm start passes it on) still stops gracefully, exit 0', async () => {
  const serving = await startServe(['--home', join(dir, 'home'), '--root', join(dir, 'root-sigint')]);
  const child = serving.process;
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill('SIGINT');
  // The repeat goes once the first is being handled, as the copies npm and scripts/start.mjs pass on do.
  while (!serving.stderr.includes('"event":"stopping"') && child.exitCode === null)
    await Promise.race([once(child.stderr!, 'data'), exited]);
  child.kill('SIGINT');
  const [code, signal] = await exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, serving.stderr);
  assert.deepEqual(
    records(serving.stderr)
      .map((record) => record.event)
      .slice(-2),
    ['stopping', 'stopped'],
  );
});

test('a dashboard that cannot listen: after server ready, server stopped, then the error', async () => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  try {
    const { port } = taken.address() as { port: number };
    const result = await runFerry([
      '--home',
      join(dir, 'home'),
      'serve',
      '--root',
      join(dir, 'root-taken'),
      '--listen',
      '127.0.0.1:0',
      '--dashboard',
      `127.0.0.1:${port}`,
    ]);
    assert.notEqual(result.code, 0);
    const events = records(result.stderr).map((record) => record.event);
    assert.ok(events.includes('listening'), result.stderr);
    assert.equal(events.at(-1), 'stopped', result.stderr);
    assert.match(result.stderr, /LISTEN_FAILED/);
  } finally {
    taken.close();
  }
});
