// How long `work` held the event loop at most: what every other session's timers (handshake deadlines, idle
// timeouts) wait behind. A 10 ms interval notes each turn; the stretch since its last tick counts too, so a
// hold that lasts until `work` settles is seen (perf_hooks' monitorEventLoopDelay records a delay only once
// its timer runs again). Each stretch is measured twice: in wall time, and in the CPU time this process
// spent in it, which a loaded machine does not stretch (a process waiting for a core spends none), so a
// bound on it holds on a busy CI machine and still catches work that never yields.
import { performance } from 'node:perf_hooks';

export interface EventLoopHold<T> {
  readonly result: T;
  /** The longest stretch without an event-loop turn, in wall-clock ms. */
  readonly longestMs: number;
  /** The most CPU time (all of this process's threads, ms) spent within one stretch without a turn. */
  readonly longestCpuMs: number;
}

/** Runs `work` and returns its result with the longest stretches without an event-loop turn meanwhile. */
export async function measureEventLoopHold<T>(work: () => Promise<T>): Promise<EventLoopHold<T>> {
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let longest = 0;
  let longestCpu = 0;
  const tick = (): void => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    longest = Math.max(longest, now - last);
    longestCpu = Math.max(longestCpu, (cpu.user + cpu.system) / 1000);
    last = now;
    lastCpu = process.cpuUsage();
  };
  const timer = setInterval(tick, 10);
  try {
    const result = await work();
    tick();
    return { result, longestMs: longest, longestCpuMs: longestCpu };
  } finally {
    clearInterval(timer);
  }
}
