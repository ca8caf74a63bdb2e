// End to end: `ferry serve` stops within its grace even when a session is stuck in the file system. Before,
// SIGTERM destroyed the sockets and then waited for every session without bound, and a repeated signal is
// ignored on purpose (npm passes one Ctrl-C on two or three times): a disk that stopped taking data (NFS, a
// FUSE file system, a dying disk) kept the server from ever stopping. The real server runs over a FUSE root
// whose large writes wait while the test holds them (test/helpers/lower-case-fs.ts); it must exit with the
// README's status, its warning saying how many sessions did not end and what they were doing. Since stop 42
// the bound is the library's (`close({ graceMs })`, test/integration/server-close-grace.test.ts); the CLI
// kills itself when `close` resolved with sessions left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readFile, readlink, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { sendFiles } from '../../src/client/index.js';
import { formatMs } from '../../src/cli/parse-option.js';
import { STOP_GRACE_MS } from '../../src/cli/serve-command.js';
import { loadIdentity } from '../../src/home/index.js';
import { startAdmittedServe, type AdmittedCli } from '../helpers/admitted-cli.js';
import { serverLogged } from '../helpers/cli.js';
import { mountLowerCaseFs } from '../helpers/lower-case-fs.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { withinDeadline } from '../helpers/within-deadline.js';

const FILE_BYTES = 1024 * 1024;
/** The grace the test gives the server (`--stop-grace`): short, the stuck session never ends anyway. */
const GRACE = '300ms';
/** How long the test waits for the stop: past it the stop is unbounded (what it was before). */
const STOP_DEADLINE_MS = 15_000;
/** x86-64's write, pwrite64, writev, pwritev, pwritev2: a thread in one of them writes a file. */
const WRITE_SYSCALLS = new Set([1, 18, 20, 296, 328]);

/**
 * Whether a thread of process `pid` is inside a write to a file under `mount` (/proc/PID/task/TID/syscall:
 * the call's number, then its first argument, the descriptor). A write the FUSE file system holds stays
 * there; one that goes through leaves within microseconds.
 */
async function writingUnder(pid: number, mount: string): Promise<boolean> {
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const fields = (await readFile(`/proc/${pid}/task/${tid}/syscall`, 'utf8').catch(() => '')).split(' ');
    if (!WRITE_SYSCALLS.has(Number(fields[0]))) continue;
    const target = await readlink(`/proc/${pid}/fd/${Number(fields[1])}`).catch(() => '');
    if (target.startsWith(`${mount}/`)) return true;
  }
  return false;
}

/**
 * Resolves once the server has a write under `mount` that stays in the kernel (seen on 5 polls in a row):
 * the upload is then stuck in the file system. A condition polled, not a fixed wait: when the upload gets
 * there depends on the machine.
 */
async function stuckWriting(rig: AdmittedCli, mount: string): Promise<void> {
  let seen = 0;
  for (let polls = 0; polls < 1_000; polls++) {
    if (rig.server.process.exitCode !== null) throw new Error(`ferry serve exited:\n${rig.server.stderr}`);
    seen = (await writingUnder(rig.server.process.pid!, mount)) ? seen + 1 : 0;
    if (seen >= 5) return;
    await delay(20);
  }
  throw new Error(`the upload never got stuck writing under ${mount}:\n${rig.server.stderr}`);
}

/** The state letter of each thread of process `pid` still there (`D`: waiting in the kernel, unkillable). */
async function threadStates(pid: number): Promise<string> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const states = await Promise.all(
    tasks.map(async (tid) => {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }),
  );
  return states.filter((state) => state !== '').join(' ') || 'none';
}

test('ferry serve stops past --stop-grace with a session stuck in the file system, and says what it was doing', async (t) => {
  const dir = await makeTempDir('ferry-stop-grace-');
  const gate = join(dir, 'disk-held');
  const started: { rig?: AdmittedCli } = {};
  // Before the unmount (after-hooks run in order): the disk lets go, and a server still there is killed.
  t.after(async () => {
    await rm(gate, { force: true });
    const server = started.rig?.server.process;
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL');
      await once(server, 'exit');
    }
  });
  const root = await mountLowerCaseFs(t, { writeGate: gate });
  t.after(() => removeTempDir(dir));
  const rig = await startAdmittedServe(dir, root, ['--stop-grace', GRACE]);
  started.rig = rig;
  const file = join(dir, 'stuck.bin');
  await writeFile(file, 'head');
  await truncate(file, FILE_BYTES);
  await writeFile(gate, '');
  // The client fails once the server is gone; what matters here is the server.
  const colon = rig.server.address.lastIndexOf(':');
  const sending = sendFiles({
    server: { host: rig.server.address.slice(0, colon), port: Number(rig.server.address.slice(colon + 1)) },
    identity: await loadIdentity(rig.clientHome),
    verifyServer: () => undefined,
    retry: { retries: 0 },
    files: [file],
    streams: 1,
  }).catch((err: unknown) => err);
  await stuckWriting(rig, root);

  const exited = once(rig.server.process, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const stopped = serverLogged(rig.server, /"event":"stopped"/);
  rig.server.process.kill('SIGTERM');
  await withinDeadline(
    stopped,
    STOP_DEADLINE_MS,
    `ferry serve did not log 'server stopped' within ${STOP_DEADLINE_MS} ms of SIGTERM while a session is ` +
      `stuck writing to its root: its stop is unbounded\n${rig.server.stderr}`,
  );
  // A thread whose write the FUSE daemon has read waits for its answer uninterruptibly (D), SIGKILL or not:
  // the process ends once the disk answers, and then at once, writing nothing more.
  t.diagnostic(`threads left after the stop: ${await threadStates(rig.server.process.pid!)}`);
  await rm(gate);
  const [code, signal] = await withinDeadline(
    exited,
    STOP_DEADLINE_MS,
    `ferry serve did not end once its disk answered:\n${rig.server.stderr}`,
  );
  await sending;

  // Killed by itself: a normal exit would wait on the thread stuck in the write (README "Exit codes": 137).
  assert.deepEqual([code, signal], [null, 'SIGKILL'], rig.server.stderr);
  const lines = rig.server.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const warning = lines.find((line) => line['event'] === 'stop-grace-passed')!;
  assert.equal(warning['level'], 40, 'a warning');
  assert.equal(warning['graceMs'], 300);
  assert.equal(warning['sessionsLeft'], 1);
  const [session] = warning['sessions'] as { phase: string; connection: string }[];
  // Its connection went with the stop; its run still waits on the upload's data being written.
  assert.equal(session!.connection, 'closed');
  assert.match(session!.phase, /upload|PUT|end/);
  // No path of the root or of the upload in the warning (the client's file name included).
  assert.doesNotMatch(JSON.stringify(warning), /stuck\.bin|ferry-lower-case-fs|ferry-stop-grace/);
  // The last line says it stopped, and why; nothing after it.
  assert.deepEqual(
    [lines.at(-1)!['event'], lines.at(-1)!['msg'], lines.at(-1)!['reason'], lines.at(-1)!['signal']],
    ['stopped', 'server stopped', 'stop-grace', 'SIGTERM'],
  );

  // README "Exit codes" names this case on the code it exits with.
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Exit codes'));
  const row = section.split('\n').find((line) => /^\|\s+137 \|/.test(line));
  assert.ok(
    row?.includes(`\`--stop-grace\` (${formatMs(STOP_GRACE_MS)})`),
    `README "Exit codes" has a row 137 naming --stop-grace and its default: ${row}`,
  );
});
