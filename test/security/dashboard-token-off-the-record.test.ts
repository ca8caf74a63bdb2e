// Stop 42 security pass: `ferry serve --dashboard` printed its page's URL with the access token in its
// banner on stdout, whatever stdout was. A server's stdout is as often a service journal (`journalctl -u
// ferry`, read by the adm group) or a log file the shell made 0644 (README's `setsid ferry serve ...
// >>serve.log 2>&1`), and whoever read the token could open the dashboard on loopback (any local user can
// reach it) and watch every client's names, addresses and transfers. Now a banner to anything but a terminal
// gives the address and the path of a 0600 file in the home holding the URL with its token
// (src/home/dashboard-url-file.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FERRY_BIN, assertExit, ferryEnv, runFerry } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import {
  loopbackDashboardArgs,
  startServeWithDashboard,
  type DashboardServe,
} from '../web/serve-with-dashboard.js';

let dir: string;
let home: string;
let serve: DashboardServe;

before(async () => {
  dir = await makeTempDir('ferry-sec-dashboard-token-');
  home = join(dir, 'server-home');
  assertExit(await runFerry(['--home', home, 'keygen']), 0, 'keygen');
  serve = await startServeWithDashboard(loopbackDashboardArgs(home, join(dir, 'root')));
});

after(async () => {
  // A start that failed (before's own failure) still leaves no temp dir behind.
  try {
    await serve.stop();
  } finally {
    await removeTempDir(dir);
  }
});

test('a banner to a pipe holds no dashboard token, and the home keeps the URL for its owner alone', async () => {
  const token = new URL(serve.dashboardUrl).searchParams.get('token')!;
  assert.ok(token.length >= 16);
  // Before: `  dashboard:  http://127.0.0.1:PORT/?token=...`, in every journal and log file.
  assert.ok(!serve.banner.includes(token), serve.banner);
  assert.doesNotMatch(serve.banner, /token=/);
  const file = join(home, 'dashboard-url');
  assert.match(serve.banner, new RegExp(`its URL with the token, for you alone: ${file}\n`));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await readFile(file, 'utf8')).trim(), serve.dashboardUrl);
  const shown = /^ {2}dashboard: {2}(\S+)$/m.exec(serve.banner)![1]!;
  assert.equal((await fetch(new URL('snapshot.json', shown))).status, 401);
  const page = new URL(serve.dashboardUrl);
  page.pathname = '/snapshot.json';
  assert.equal((await fetch(page)).status, 200);
});

test('a banner to a terminal still gives the URL with its token', async () => {
  const args = [FERRY_BIN, 'serve', '--home', home, '--root', join(dir, 'root2'), '--listen', '127.0.0.1:0'];
  const command = [process.execPath, ...args, '--dashboard', '127.0.0.1:0']
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  // util-linux `script` gives the server a pseudo-terminal for its stdout; its own group, to end it whole.
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    env: ferryEnv({ TERM: 'dumb', COLUMNS: '200' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = once(child, 'exit');
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (text: string) => {
        output += text;
        if (output.includes('Watch it:')) resolve();
      });
      void exited.then(() => reject(new Error(`ferry serve ended before its banner:\n${output}`)));
    });
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
  }
  const url = (await readFile(join(home, 'dashboard-url'), 'utf8')).trim();
  assert.match(url, /\?token=/);
  assert.ok(output.includes(`  dashboard:  ${url}`), output);
});
