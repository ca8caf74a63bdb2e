import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import type { GetPlan } from './download-plan.js';
import { foldedName } from './folded-name.js';
import type { OnSkip } from '../transfer/index.js';
import type { SyncEntry } from './sync-plan.js';
import type { TransferEvent } from './transfer-events.js';

/** Why an entry a server listed is left out (`entry-skipped`). */
const REASON = "inside ferry's home, which a download never changes";

/**
 * Ferry's own home (`--home`: the identity key, the pinned servers, the allow-list and invites) when it lies
 * under a recursive download's destination: `get -r` or `sync HOST/SRC DST` into `~` or `~/.config`. The
 * server chooses every name in such a download, and the home's files pass their own checks when a download
 * writes them (the user's own, mode at most 0755: `home/owned-by-us.ts`), so a hostile server could pin its
 * own keys for other servers in `known-servers.json`, allow its key in `allowed-clients.json`, plant
 * `invites.json`, or with `sync --delete` remove `identity.key` (docs/SECURITY.md, "Ferry's home inside a
 * download"). The server's side refuses a root that holds its home (ROOT_CONTAINS_HOME); a client keeps the
 * download and leaves out what it lists at or below the home, and anything but a directory above it (a file
 * or link there would replace the directory that holds the home), with an `entry-skipped` each.
 */
export class HomeInDestination {
  /**
   * The home relative to the destination, '/'-separated, each name folded (`foldedName`: on a case-insensitive
   * destination, macOS's default, `.CONFIG/Ferry` is the home too); '' when the destination is the home or
   * inside it.
   */
  readonly #path: string;
  /** How many names `#path` has: only as many of an entry's are folded. */
  readonly #depth: number;
  /** `#path`'s first name. */
  readonly #first: string;

  private constructor(path: string) {
    this.#path = path === '' ? '' : path.split('/').map(foldedName).join('/');
    this.#depth = path === '' ? 0 : path.split('/').length;
    this.#first = this.#path.split('/', 1)[0]!;
  }

  /** The home under `localDir` (a real path), or undefined when it is elsewhere (or there is none). */
  static async of(localDir: string, homeDir: string | undefined): Promise<HomeInDestination | undefined> {
    if (homeDir === undefined) return undefined;
    const home = await realpath(homeDir).catch(() => undefined);
    if (home === undefined) return undefined;
    const down = relative(localDir, home);
    if (!climbs(down)) return new HomeInDestination(down.split(sep).join('/'));
    // A destination inside the home: everything listed would land in it.
    return climbs(relative(home, localDir)) ? undefined : new HomeInDestination('');
  }

  /** Whether a server's entry at `path` (relative to the destination) of `kind` is left out. */
  leavesOut(path: string, kind: SyncEntry['kind']): boolean {
    const home = this.#path;
    if (home === '') return true;
    // Most entries part from the home at their first name: one name folded each.
    const slash = path.indexOf('/');
    if (foldedName(slash < 0 ? path : path.slice(0, slash)) !== this.#first) return false;
    const names = path.split('/', this.#depth + 1);
    const head = names.slice(0, this.#depth).map(foldedName).join('/');
    // At or below the home, or (anything but a directory) above it.
    if (names.length >= this.#depth) return head === home;
    return kind !== 'dir' && home.startsWith(`${head}/`);
  }

  /** `plan` without what it would write at or below the home, each left out reported. */
  leaveOut(plan: GetPlan, emit: (event: TransferEvent) => void): GetPlan {
    const kept = <T extends { local: string[] }>(items: T[], kind: SyncEntry['kind']): T[] =>
      items.filter((item) => {
        const path = item.local.join('/');
        if (!this.leavesOut(path, kind)) return true;
        emit({ type: 'entry-skipped', path, reason: REASON });
        return false;
      });
    return { files: kept(plan.files, 'file'), dirs: kept(plan.dirs, 'dir'), links: kept(plan.links, 'link') };
  }

  /**
   * A sync's two sides without the home: SRC's entries it leaves out (reported through `onSkip`), and DST's
   * entries at or above the home, so nothing of the plan removes, replaces or changes them.
   */
  leaveOutOfSync(
    trees: { source: SyncEntry[]; destination: SyncEntry[] },
    onSkip: OnSkip,
  ): { source: SyncEntry[]; destination: SyncEntry[] } {
    return {
      source: trees.source.filter((entry) => {
        if (!this.leavesOut(entry.path, entry.kind)) return true;
        onSkip(entry.path, REASON, 'in-ferry-home');
        return false;
      }),
      // A directory above the home is left as it is too: a removal of it (`--delete`) would take the home.
      destination: trees.destination.filter((entry) => !this.leavesOut(entry.path, 'file')),
    };
  }
}

/** Whether a relative path leaves its base (`..` first) or is on another root (Windows drives). */
function climbs(path: string): boolean {
  return path === '..' || path.startsWith(`..${sep}`) || isAbsolute(path);
}
