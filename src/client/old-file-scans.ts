/**
 * Old files scanned at once for delta downloads (PROTOCOL.md §5.17.3, §5.17.4), in this process. A `get -r`
 * has up to MAX_PIPELINED downloads in flight, and each scan holds its read window and the partial's pending
 * writes of the leaves it takes; the scan itself runs on the event loop, so more than two at once gain only
 * overlapped reads, and cost memory per file (16 changed 15 MiB files: about 135 MiB peak all at once).
 */
const MAX_SCANS = 2;

let running = 0;
const waiting: Array<() => void> = [];

/** Runs `scan` once fewer than MAX_SCANS others run; the next waiting one starts when it settles. */
export async function withOldFileScan<T>(scan: () => Promise<T>): Promise<T> {
  if (running >= MAX_SCANS) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await scan();
  } finally {
    // The slot passes straight to the next waiting scan, so `running` counts it without a gap.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}
