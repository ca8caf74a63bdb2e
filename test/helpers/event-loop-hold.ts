// How long `work` held the event loop at most: what every other session's timers (handshake deadlines, idle
// timeouts) wait behind. A 10 ms interval notes each turn; the gap since its last tick counts too, so a hold
// that lasts until `work` settles is seen (perf_hooks' monitorEventLoopDelay records a delay only once its
// timer runs again, which it may never do before the work ends). The test process must run nothing else
// heavy meanwhile.
import { performance } from 'node:perf_hooks';

/** Runs `work` and returns its result with the longest stretch in ms without an event-loop turn meanwhile. */
export async function measureEventLoopHold<T>(
  work: () => Promise<T>,
): Promise<{ result: T; longestMs: number }> {
  let last = performance.now();
  let longest = 0;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  };
  const timer = setInterval(tick, 10);
  try {
    const result = await work();
    tick();
    return { result, longestMs: longest };
  } finally {
    clearInterval(timer);
  }
}
