// The daemons the test helpers start (etcd, HAProxy, Swift with memcached and its workers) die with the test
// process that started them, even when it is killed with SIGKILL (scripts/run-tests.mjs kills a file past
// its timeout; node's test runner does too): no `after` hook or 'exit' listener runs then, so the helpers'
// own stop() never does. A daemon left behind holds ports, memory and temp dirs until the machine reboots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const HOLDER = fileURLToPath(new URL('../helpers/daemon-holder.ts', import.meta.url));

/** pid -> [parent pid, state] of every process now ('Z': a zombie, dead but not yet reaped). */
function processTable(): Map<number, { ppid: number; state: string }> {
  const table = new Map<number, { ppid: number; state: string }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The command may hold spaces and parentheses: the fields after its closing ')' are fixed.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(name), { ppid: Number(ppid), state: state! });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

/** Every live process below `root` (children, their children, ...). */
function descendants(root: number): number[] {
  const table = processTable();
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, { ppid, state }] of table)
      if (ppid === pid && state !== 'Z') {
        found.push(child);
        walk(child);
      }
  };
  walk(root);
  return found;
}

function alive(pids: readonly number[]): number[] {
  const table = processTable();
  return pids.filter((pid) => {
    const entry = table.get(pid);
    return entry !== undefined && entry.state !== 'Z';
  });
}

// ferry-serve: `ferry serve` as test/helpers/cli.ts starts it for the e2e tests (needs `npm run build`).
for (const daemon of ['etcd', 'haproxy', 'swift', 'ferry-serve'] as const) {
  test(`${daemon} started by a test helper dies when its test process is killed with SIGKILL`, async (t) => {
    const dir = await makeTempDir('ferry-holder-');
    t.after(() => removeTempDir(dir));
    const holder = spawn(process.execPath, ['--import', 'tsx', HOLDER, daemon, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    holder.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    let started: number[] = [];
    // Whatever outlives the check is ours: killed here, so a failing run leaves nothing behind either.
    t.after(() => {
      for (const pid of alive(started)) process.kill(pid, 'SIGKILL');
      holder.kill('SIGKILL');
    });
    const lines = createInterface({ input: holder.stdout });
    const [first] = (await Promise.race([once(lines, 'line'), once(holder, 'exit')])) as [unknown];
    assert.equal(first, 'ready', `the holder did not start ${daemon}: ${stderr}`);
    started = descendants(holder.pid!);
    assert.ok(started.length > 0, `${daemon}: no process started`);
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    // These are not our children: no exit event comes for them, so /proc is asked until they are gone;
    // the pause only spaces the looks. The deadline bounds a failure (a daemon that outlives its test).
    const deadline = Date.now() + 10_000;
    let left = alive(started);
    while (left.length > 0 && Date.now() < deadline) {
      await delay(50);
      left = alive(started);
    }
    assert.deepEqual(
      left,
      [],
      `${daemon}: ${left.length} of ${started.length} processes outlived their test`,
    );
  });
}
