// Memory of the same cost for every tool of a case, on a VM that hands freed memory back to its host.
//
// This machine is such a VM (free page reporting, /sys/module/page_reporting): memory the guest frees (the page
// cache of a file deleted, a process's heap at its exit) goes back to the host within moments, and the next
// touch of it faults on the host. Writing 1 GiB of new page cache (Python, 4 MiB writes) cost 0.87-2.39 s of
// system time after such frees, 0.20-0.25 s right after a process had touched 2 GiB and exited. A receiver
// writes a new 1 GiB file in every large case, so which tool of a case paid the host's faults depended on the
// order of turns and on what was freed before each: the same delta upload took 4.12 s run first after its
// setup and 2.88 s run second, and rsync 3.85 s run first. Before every timed run a child touches `bytes` of
// anonymous memory and exits, so what the run allocates next is memory the guest holds, for every tool alike,
// as on a machine that keeps its memory.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const GIB = 2 ** 30;

/** Where the kernel says it reports free pages to the host (absent on a machine that does not). */
const PAGE_REPORTING = '/sys/module/page_reporting';

/** True when this kernel reports free pages to its host, so that runs need {@link settleMemory}. */
export function reportsFreePages(): boolean {
  return existsSync(PAGE_REPORTING);
}

/**
 * Touches `bytes` of memory in a child process that then exits (untimed, before a timed run); a no-op on a
 * machine that does not report free pages. Throws if the child fails (too little memory: say so, not skew).
 */
export function settleMemory(bytes = 3 * GIB): void {
  if (!reportsFreePages()) return;
  const pieces = Math.ceil(bytes / GIB);
  // Buffer.alloc of a large size maps zero pages without touching them; fill() touches every page.
  const script = `const kept = []; for (let i = 0; i < ${pieces}; i++) kept.push(Buffer.alloc(${GIB}).fill(1));`;
  const child = spawnSync(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (child.status !== 0)
    throw new Error(`settling memory (${pieces} GiB touched) failed: ${child.stderr?.toString().trim()}`);
}

/**
 * Free memory and page cache when the bench starts, in GiB (Linux's /proc/meminfo; undefined elsewhere). On
 * the machine these results come from, with 9 GiB of other files' page cache (13 GiB of leftovers in /tmp),
 * the same build's in-place 1 GiB delta rows took 1.2-1.7x as long as after the leftovers were removed and the
 * cache dropped, rsync's rows the same: settling does not make up for that, so the record says what a run began
 * with.
 */
export function memoryAtStart(): { freeGiB: number; pageCacheGiB: number } | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/meminfo', 'utf8');
  } catch {
    return undefined;
  }
  const kib = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const gib = (k: number): number => Math.round((k / 2 ** 20) * 10) / 10;
  return { freeGiB: gib(kib('MemFree')), pageCacheGiB: gib(kib('Cached')) };
}
