import type { SweepablePartialStore } from '../transfer/index.js';

/** Default age after which an untouched partial transfer is abandoned and removed. */
export const PARTIAL_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** How often a running server looks for abandoned partials. */
export const PARTIAL_SWEEP_INTERVAL_MS = 60 * 60 * 1000;

export interface SweepOptions {
  maxAgeMs: number;
  /** The clock, injected by tests. */
  now: number;
  /** Transfers a live session holds are never removed, however old. */
  isHeld: (transferId: string) => boolean;
}

/**
 * Removes the partial transfers of `store` (the server's: `<id>.part` and `<id>.state`) last written to
 * more than `maxAgeMs` ago. Age counts from the last write, so a transfer that is still resuming now and
 * then is kept. Returns the ids removed. Through the store's port, so an object store (issue 15) sweeps
 * the same way (aborting its multipart uploads).
 */
export async function sweepPartials(
  store: SweepablePartialStore<string, unknown>,
  options: SweepOptions,
): Promise<string[]> {
  const removed: string[] = [];
  for (const { key, touchedMs } of await store.list()) {
    if (options.now - touchedMs < options.maxAgeMs || options.isHeld(key)) continue;
    await store.remove(key);
    removed.push(key);
  }
  return removed;
}
