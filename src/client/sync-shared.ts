// What both directions of `ferry sync` use (sync-up.ts, sync-down.ts): the tally of a sync's events, the
// pipelined digest comparison, and which entries a plan replaces when their replacement is placed.
import { joinRemotePath } from '../protocol/index.js';
import { countSyncActions, type SyncAction, type SyncCounts, type SyncEntry } from './sync-plan.js';
import type { SyncEvent } from './sync-tree.js';
import type { TransferDirection, TransferEvent } from './transfer-events.js';

/**
 * The paths of `paths` whose two digests are equal, computed a few at a time: the server answers verify-only
 * gets in order (PROTOCOL.md §5.11.4), so they are pipelined, bounded well under its 256.
 */
export async function sameDigests(
  paths: readonly string[],
  digestsOf: (path: string) => { local: Promise<Buffer>; remote: Promise<Buffer> },
): Promise<Set<string>> {
  const identical = new Set<string>();
  const WINDOW = 32;
  for (let i = 0; i < paths.length; i += WINDOW) {
    await Promise.all(
      paths.slice(i, i + WINDOW).map(async (path) => {
        const { local, remote } = digestsOf(path);
        const [a, b] = await Promise.allSettled([local, remote]);
        // A file whose digest cannot be had on one side (not permitted, unreadable) is sent: it fails or
        // succeeds on its own there.
        if (a.status === 'fulfilled' && b.status === 'fulfilled' && a.value.equals(b.value))
          identical.add(path);
      }),
    );
  }
  return identical;
}

/**
 * The local entries of another kind that a download's file or link replaces, by path, with their kind: they
 * are not removed before the transfers (a run that fails then would lose them with nothing in their place)
 * but when the replacement is ready beside them and renamed over (a file's verified partial, a link made
 * under a temporary name), as rsync does. A file or link in the way goes by the rename itself, a directory
 * (only with `--delete`) with what it holds right before it. A directory that replaces a file or link cannot
 * be renamed over it: that one is made in the same step as the removal (`changeLocal`), before the
 * transfers, since what it holds arrives into it.
 */
export function replacedAtCreation(actions: readonly SyncAction[]): Map<string, SyncEntry['kind']> {
  const replacing = new Set<string>();
  for (const a of actions) if (a.action === 'send' || a.action === 'link') replacing.add(a.path);
  const replaced = new Map<string, SyncEntry['kind']>();
  for (const a of actions)
    if (a.action === 'delete' && a.reason === 'replaced' && replacing.has(a.path))
      replaced.set(a.path, a.kind);
  return replaced;
}

/** Whether `path` is, or lies below, one of `tops`. */
export function atOrBelow(path: string, tops: ReadonlyMap<string, unknown>): boolean {
  for (let at = path; ; at = at.slice(0, at.lastIndexOf('/'))) {
    if (tops.has(at)) return true;
    if (!at.includes('/')) return false;
  }
}

/**
 * Counts what a sync plans and what its transfers put on the wire, and forwards every event. Wire bytes of
 * file data: a delta upload's literals (`transfer-delta`), else what `transfer-finished` says travelled.
 */
export class SyncTally {
  readonly #emit: (event: SyncEvent) => void;
  readonly #literal = new Map<string, number>();
  /** The remote paths of the files the plan sends as changed: only they can save anything. */
  readonly #changed = new Set<string>();
  dataBytes = 0;
  savedBytes = 0;
  /** The changed files `savedBytes` counts: those that crossed (in part or not at all) as a delta. */
  deltaFiles = 0;

  constructor(emit: ((event: SyncEvent) => void) | undefined) {
    this.#emit = emit ?? (() => undefined);
  }

  /** Reports the plan's actions (paths relative to `remoteBase` on the server) and counts them. */
  planned(actions: readonly SyncAction[], direction: TransferDirection, remoteBase: string): SyncCounts {
    for (const action of actions) {
      if (action.action === 'send' && action.reason === 'changed')
        this.#changed.add(joinRemotePath(remoteBase, action.path));
      this.#emit({ type: 'sync-action', direction, ...action });
    }
    return countSyncActions(actions);
  }

  readonly onEvent = (event: TransferEvent): void => {
    if (event.type === 'transfer-delta') this.#literal.set(event.remotePath, event.literalBytes);
    if (event.type === 'transfer-finished') {
      const wire = this.#literal.get(event.remotePath) ?? event.transferredBytes;
      this.dataBytes += wire;
      // What did not cross the wire in this run: copies of the receiver's old file (a delta), the verified
      // part of an interrupted attempt, whichever way the transfer counts them, and a changed file found
      // identical (a download of it moves nothing; an upload alone, not batched, sends it as a delta).
      if (this.#changed.has(event.remotePath) && event.size > wire) {
        this.savedBytes += event.size - wire;
        this.deltaFiles += 1;
      }
    }
    this.#emit(event);
  };
}
