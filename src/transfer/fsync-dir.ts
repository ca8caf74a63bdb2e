import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';

/** A directory's sync in progress, and the one queued behind it. */
interface DirSync {
  running: Promise<void>;
  queued: Promise<void> | undefined;
}

const syncs = new Map<string, DirSync>();

/**
 * Flushes a directory so a rename or a new entry in it survives a crash: without it the file's bytes may
 * be durable while the name pointing at them is not.
 *
 * Calls for the same directory are coalesced (group commit): a caller arriving while a sync runs waits for
 * the next one, which starts when the running one ends and covers every caller that queued meanwhile.
 * Many small files finishing together in one directory then cost a few syncs, not one each.
 */
export function fsyncDir(dir: string): Promise<void> {
  const state = syncs.get(dir);
  if (!state) {
    const fresh: DirSync = { running: syncOnce(dir), queued: undefined };
    syncs.set(dir, fresh);
    settle(dir, fresh);
    return fresh.running;
  }
  // The running sync may have started before this caller's rename: only the next one covers it.
  state.queued ??= state.running
    .catch(() => undefined)
    .then(() => {
      state.running = syncOnce(dir);
      state.queued = undefined;
      settle(dir, state);
      return state.running;
    });
  return state.queued;
}

/** Forgets the directory once its last sync ended with nothing queued. */
function settle(dir: string, state: DirSync): void {
  const running = state.running;
  running
    .catch(() => undefined)
    .then(() => {
      if (state.running === running && state.queued === undefined && syncs.get(dir) === state)
        syncs.delete(dir);
    })
    .catch(() => undefined);
}

async function syncOnce(dir: string): Promise<void> {
  // O_DIRECTORY: a name swapped for a fifo must not hang the open. A link is followed, which is harmless for
  // a flush and keeps a destination that is itself a link to a directory working.
  const handle = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
