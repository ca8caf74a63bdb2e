// Reading what the kernel knows about a process: CPU time (/proc/PID/stat), memory high-water marks
// (/proc/PID/status) and its children (/proc/PID/task/TID/children). Linux only, by design: these are the
// numbers the benchmarks report, read the same way for every tool.
import { readFile, readdir } from 'node:fs/promises';

/** Clock ticks per second of /proc/PID/stat times (USER_HZ); 100 on every Linux build we run on. */
const TICKS_PER_SECOND = 100;

/** CPU seconds of one process, split as the kernel accounts them. */
export interface ProcCpu {
  /** User + system seconds of the process itself (all its threads). */
  selfSeconds: number;
  /** User + system seconds of its children that exited and were waited for (cutime + cstime). */
  reapedChildrenSeconds: number;
}

/** A field of /proc/PID/status in bytes (`VmHWM`: peak resident set, `VmRSS`: current), or undefined once gone. */
export async function procStatusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The CPU times of a live process, or undefined once it is gone (or a zombie whose times moved to its parent). */
export async function readProcCpu(pid: number): Promise<ProcCpu | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields counted from 3 (state); utime, stime, cutime, cstime are fields 14-17 of proc(5).
  const tick = (field: number): number => Number(fields[field - 3]) / TICKS_PER_SECOND;
  return { selfSeconds: tick(14) + tick(15), reapedChildrenSeconds: tick(16) + tick(17) };
}

/** The direct children of a process (over all its threads), or [] once it is gone. */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const tids = await readdir(`/proc/${pid}/task`);
    const lists = await Promise.all(
      tids.map((tid) => readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '')),
    );
    return lists.flatMap((list) =>
      list
        .split(' ')
        .filter((s) => s.trim() !== '')
        .map(Number),
    );
  } catch {
    return [];
  }
}

/** A process and all its live descendants, parents before children. */
export async function processTree(pid: number): Promise<number[]> {
  const tree: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.shift()!;
    tree.push(next);
    pending.push(...(await childPids(next)));
  }
  return tree;
}
