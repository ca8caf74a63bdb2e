/**
 * Delta downloads at once in this process, from the SIGNATURE request to the download's end (PROTOCOL.md
 * §5.17). Each holds its signature as it arrives (20 bytes a block, fixed by the size the server offers: up
 * to 2^18 blocks, 5 MiB) and, once scanned, its partial's tables of leaves (32 bytes a leaf and more), and a
 * `get -r` or `sync` pipelines up to MAX_PIPELINED (256) downloads: a hostile server that offered 16 GiB
 * files, sent their signatures but for the last record and then only keepalives made a client hold 1.3 GiB
 * for as long as the progress watchdog allowed (hours, at 16 s per offered GiB). The slot is taken before
 * the request goes, never while messages wait to be read (a wait there would stop the session's receive loop
 * and with it the downloads holding slots), so a download that waits holds nothing. Honest deltas are
 * unaffected up to 16 changed files in flight, beyond which they queue like scans (two at once).
 */
export const MAX_DELTA_DOWNLOADS = 16;

let running = 0;
const waiting: Array<() => void> = [];

/** Waits until fewer than MAX_DELTA_DOWNLOADS delta downloads run; the function returned lets go, once. */
export async function deltaDownloadSlot(): Promise<() => void> {
  if (running >= MAX_DELTA_DOWNLOADS) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    // The slot passes straight to the next waiting download, so `running` counts it without a gap.
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
}
