// Per-thread CPU of this process (issue 14: which thread limits the pipeline's scaling), read from
// /proc/self/task/*/stat (Linux). Node names every thread "node", so they are told apart by what they do:
// the main thread is the process id, a pool's workers are the threads that appear when it starts, and the
// libuv pool is found once by giving it work only it does (pbkdf2); the rest are V8's platform threads
// (garbage collection helpers, compilers), the loader thread under tsx and the like.
import { pbkdf2 } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on every Linux build Node supports). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) of each live thread of this process, by thread id. */
export function threadCpuSeconds(): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out; // not Linux: no per-thread figures
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // Fields after "pid (comm) ": state is field 3, utime 14, stime 15 (proc(5)); comm may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND);
  }
  return out;
}

/** The thread ids of libuv's pool, found once (its threads are the only ones that run pbkdf2). */
let libuvThreads: Promise<Set<number>> | undefined;

export function findLibuvThreads(): Promise<Set<number>> {
  libuvThreads ??= (async () => {
    const before = threadCpuSeconds();
    // Four jobs of ~30 ms each: one per pool thread, long enough to show in 10 ms ticks.
    await Promise.all(
      Array.from(
        { length: 4 },
        () => new Promise<void>((resolve) => pbkdf2('p', 's', 200_000, 32, 'sha256', () => resolve())),
      ),
    );
    const after = threadCpuSeconds();
    const found = new Set<number>();
    for (const [tid, seconds] of after) {
      if (tid !== process.pid && seconds - (before.get(tid) ?? 0) >= 0.01) found.add(tid);
    }
    return found;
  })();
  return libuvThreads;
}

/** CPU seconds per kind of thread over one measured step. */
export interface ThreadCpu {
  main: number;
  /** The pool's workers, one entry each (empty at 1 thread). */
  workers: number[];
  libuv: number;
  /** V8's platform threads (GC helpers, concurrent compilers) and anything else. */
  other: number;
}

/** What each thread spent between two `threadCpuSeconds()` readings. */
export function threadCpuBetween(
  before: Map<number, number>,
  after: Map<number, number>,
  workers: ReadonlySet<number>,
  libuv: ReadonlySet<number>,
): ThreadCpu {
  const out: ThreadCpu = { main: 0, workers: [], libuv: 0, other: 0 };
  for (const [tid, seconds] of after) {
    const spent = seconds - (before.get(tid) ?? 0);
    if (tid === process.pid) out.main += spent;
    else if (workers.has(tid)) out.workers.push(spent);
    else if (libuv.has(tid)) out.libuv += spent;
    else out.other += spent;
  }
  return out;
}

/**
 * CPU seconds of each thread of process `pid` by thread name (comm; the main thread is 'main'), summed over
 * threads of the same name, or undefined once the process is gone: another process's split, sampled while it
 * runs (`bench/delta-ab.ts`).
 */
export function processThreadCpu(pid: number): Map<string, number> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const out = new Map<string, number>();
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
      out.set(name, (out.get(name) ?? 0) + cpu);
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
