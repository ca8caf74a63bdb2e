// End to end: `ferry serve --dashboard` logs where its dashboard listens as the listening line logs the
// server's address, `host:port`. It logged an object, which a terminal showed as
// `address={"host":"127.0.0.1","port":7080}` (npm start's first screen) and a log reader got in two shapes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
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
