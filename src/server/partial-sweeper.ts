import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

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
 * Removes partial transfers (`<id>.part` and `<id>.state`) whose newest file is older than `maxAgeMs`.
 * Age counts from the last write, so a transfer that is still resuming now and then is kept. Returns the
 * ids removed.
 */
export async function sweepPartials(partialDir: string, options: SweepOptions): Promise<string[]> {
  const newest = new Map<string, number>();
  for (const name of await readdir(partialDir)) {
    const match = /^([0-9a-f]{32})\.(part|state|state\.tmp)$/.exec(name);
    if (!match) continue;
    const id = match[1]!;
    try {
      const { mtimeMs } = await stat(join(partialDir, name));
      newest.set(id, Math.max(newest.get(id) ?? 0, mtimeMs));
    } catch {
      // removed concurrently: nothing to sweep
    }
  }
  const removed: string[] = [];
  for (const [id, mtimeMs] of newest) {
    if (options.now - mtimeMs < options.maxAgeMs || options.isHeld(id)) continue;
    for (const suffix of ['.part', '.state', '.state.tmp'])
      await rm(join(partialDir, id + suffix), { force: true });
    removed.push(id);
  }
  return removed;
}
