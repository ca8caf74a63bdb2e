// Every process a benchmark starts is registered here, so that it can be killed with everything it started
// (scp's ssh, sshd's per-connection children, ...) when a case ends badly or the harness is interrupted.
// Only PIDs we spawned, and their descendants, are ever signalled.
import { readFileSync, readdirSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';

const tracked = new Set<ChildProcess>();

/** The live descendants of `pid` (children before grandchildren), read synchronously so exit handlers can use it. */
function descendantsSync(pid: number): number[] {
  const found: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.shift()!;
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${next}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      let list: string;
      try {
        list = readFileSync(`/proc/${next}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of list
        .split(' ')
        .filter((s) => s.trim() !== '')
        .map(Number)) {
        found.push(child);
        pending.push(child);
      }
    }
  }
  return found;
}

/** Sends `signal` to `pid` and every live descendant of it. Never throws. */
export function killTree(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  // Collect first: once the parent dies, its children are re-parented and can no longer be found from it.
  for (const target of [pid, ...descendantsSync(pid)]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

/** Registers a spawned child so {@link killTracked} can end it; it is forgotten once it exits. */
export function track(child: ChildProcess): ChildProcess {
  tracked.add(child);
  child.once('exit', () => tracked.delete(child));
  return child;
}

/** Kills every registered child that is still running, with its descendants. Synchronous, idempotent. */
export function killTracked(): void {
  for (const child of tracked) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) killTree(child.pid);
  }
  tracked.clear();
}

let installed = false;

/**
 * Makes sure no benchmark process outlives the harness: on exit, on SIGINT/SIGTERM/SIGHUP, and on an uncaught
 * error, every registered child is killed with its descendants, then `cleanup` runs (synchronously).
 */
export function killTrackedOnExit(cleanup: () => void = () => undefined): void {
  if (installed) return;
  installed = true;
  process.once('exit', () => {
    killTracked();
    cleanup();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}: stopping every process it started\n`);
      process.exit(130);
    });
  }
}
