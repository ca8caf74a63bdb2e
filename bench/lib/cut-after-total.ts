import type { FaultProxy } from '../../test/helpers/fault-proxy.js';

/** How often the byte count is checked: at ~1 GB/s a 2 ms poll overshoots by about 2 MB. */
const POLL_MS = 2;

/** A cut in waiting; see {@link cutAfterTotal}. */
export interface PendingCut {
  /** Resolves with the client-to-server bytes forwarded (since `fromConnection`) when the cut happened. */
  readonly cut: Promise<number>;
  /** Stops watching and lets new connections through again. Idempotent. */
  cancel(): void;
}

/**
 * Cuts a transfer however many connections carry it (ferry may spread one file over parallel streams):
 * once the connections accepted from index `fromConnection` on have forwarded `totalBytes` client-to-server
 * bytes between them, every one of them is reset (RST both ways), and every connection accepted after that
 * is reset at its first byte, so a retry makes no progress, until {@link PendingCut.cancel}.
 */
export function cutAfterTotal(proxy: FaultProxy, fromConnection: number, totalBytes: number): PendingCut {
  let markCut!: (bytes: number) => void;
  const cut = new Promise<number>((resolve) => (markCut = resolve));
  let blocking = false;
  const timer = setInterval(() => {
    const forwarded = proxy.bytesSince(fromConnection, 'clientToServer');
    if (forwarded < totalBytes) return;
    clearInterval(timer);
    blocking = true;
    proxy.setPlan({ cut: { afterBytes: 0 } });
    for (const connection of proxy.connections.slice(fromConnection)) connection.reset();
    markCut(forwarded);
  }, POLL_MS);
  return {
    cut,
    cancel: () => {
      clearInterval(timer);
      if (blocking) proxy.setPlan(undefined);
      blocking = false;
    },
  };
}
