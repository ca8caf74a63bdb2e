// End to end: closing the terminal `ferry serve` runs in (a window shut, an ssh session dropped) sends it
// SIGHUP, whose default action killed it mid-write, 'server stopped' never logged; SIGINT and SIGTERM alone
// stopped it cleanly. SIGHUP now stops it as SIGTERM does. Under `nohup` too: Node resets an inherited
// SIGHUP ignore at start, so a nohup'ed Node process dies of SIGHUP whatever it does (measured: 129 before
// this change), and the server cannot tell it was nohup'ed; README "Running a server" says what keeps one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FERRY_BIN, assertExit, runFerry, startServe, type CliOptions } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

let dir: string;

before(async () => {
  dir = await makeTempDir('ferry-e2e-hangup-');
  assertExit(await runFerry(['--home', join(dir, 'home'), 'keygen']), 0, 'keygen');
});

after(() => removeTempDir(dir));

/** How a `ferry serve` sent `signal` ended: its exit, and the last two log records' events and reason. */
async function stopWith(
  signal: NodeJS.Signals,
  root: string,
  options: CliOptions = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; events: unknown[]; reason: unknown }> {
  const server = await startServe(['--home', join(dir, 'home'), '--root', join(dir, root)], options);
  try {
    const exited = once(server.process, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    server.process.kill(signal);
    const [code, exitSignal] = await exited;
    const records = server.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { event?: string; reason?: string });
    return {
      code,
      signal: exitSignal,
      events: records.slice(-2).map((record) => record.event),
      reason: records.at(-1)?.reason,
    };
  } finally {
    await server.stop();
  }
}

test('SIGHUP (the terminal closed) stops ferry serve as SIGTERM does: stopping, stopped, exit 0', async () => {
  const term = await stopWith('SIGTERM', 'root-term');
  const hangup = await stopWith('SIGHUP', 'root-hup');
  assert.deepEqual(term, { code: 0, signal: null, events: ['stopping', 'stopped'], reason: 'SIGTERM' });
  assert.deepEqual(hangup, { ...term, reason: 'SIGHUP' });
});

test('started with SIGHUP ignored (nohup), Node drops the ignore: SIGHUP still stops it cleanly', async () => {
  // `nohup` sets SIGHUP to ignored and execs; so does this wrapper, which keeps the pipes (nohup would not
  // write to a terminal's stdout, and here is none).
  const wrapper = join(dir, 'ferry-hup-ignored');
  await writeFile(wrapper, `#!/bin/sh\ntrap '' HUP\nexec '${process.execPath}' '${FERRY_BIN}' "$@"\n`);
  await chmod(wrapper, 0o755);
  // Node itself, started the same way, finds SIGHUP no longer ignored (SigIgn's bit 0, read before any
  // handler of its own), where a program that keeps its inherited dispositions (grep) finds it ignored: were
  // it still set in Node (a Node that keeps the ignore), the server's handler would be overriding nohup, and
  // it should read this mask before installing one.
  const sigIgnUnderTrap = async (program: string[]): Promise<bigint> => {
    const { stdout } = await promisify(execFile)('/bin/sh', [
      '-c',
      `trap '' HUP; exec "$@"`,
      'sh',
      ...program,
    ]);
    return BigInt(`0x${/SigIgn:\s*([0-9a-f]+)/.exec(stdout)![1]}`);
  };
  const kept = await sigIgnUnderTrap(['grep', 'SigIgn', '/proc/self/status']);
  assert.equal(kept & 1n, 1n, 'the trap ignores SIGHUP for the program it execs');
  const inNode = await sigIgnUnderTrap([
    process.execPath,
    '-e',
    "process.stdout.write(require('fs').readFileSync('/proc/self/status', 'utf8'))",
  ]);
  assert.equal(inNode & 1n, 0n, 'Node resets an inherited SIGHUP ignore at start');
  const hangup = await stopWith('SIGHUP', 'root-nohup-2', { bin: wrapper });
  assert.deepEqual(hangup, { code: 0, signal: null, events: ['stopping', 'stopped'], reason: 'SIGHUP' });
});
