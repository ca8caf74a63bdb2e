import type { Stats } from 'node:fs';
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FerryError } from '../errors/index.js';

/** A directory whose ancestors are checked, and how a refusal names it. */
export interface GuardedPlace {
  /** The error a refusal throws: HOME_UNSAFE for a home, ROOT_UNSAFE for a server's root. */
  readonly code: 'HOME_UNSAFE' | 'ROOT_UNSAFE';
  /** How a refusal names the directory: `the home`, `the server root`. */
  readonly name: string;
  /**
   * Whether the directory itself is held to the same rule as those above it (a server's root: whoever may
   * write it may rename what lies in it, the server's own `.ferry` among them). A home has its own, stricter
   * check (`refuseUnlessHomeDirOurs`: no group write at all).
   */
  readonly itself?: boolean;
}

/**
 * Checks the directories above `dir` (a home, a server's root), as OpenSSH's `secure_path` checks those above
 * `authorized_keys` (stop 43): whoever may write one of them may rename `dir` away and put a link in its
 * place, to a directory the user owns and the attacker filled (a download of theirs: its files are the user's
 * own, with modes the sender chose), or to one of the user's they want (a server's root swapped for `~/.ssh`
 * is served to its clients), and every check of `dir` and its files passes there. Probed: a home under a
 * directory of mode 0777 was swapped so by uid 65534, and `ferry id` printed the planted key's ID, exit 0.
 * Each directory on the path as given (a link there owned by the user or root, as the kernel's
 * `protected_symlinks` asks in sticky directories) and on its real path must be owned by the user or root and
 * writable by no one else, with two exceptions: a sticky directory (/tmp: others may add names, never move
 * ours), and one writable by the user's own primary group (a user private group, the default of Debian and
 * Fedora, whose umask 002 makes `~/.config` group-writable; Debian's OpenSSH allows the same). One policy for
 * the client's home, the server's home and the server's root. No uids, nothing to check (Windows).
 */
export async function refuseUnlessAncestorsOurs(dir: string, place: GuardedPlace): Promise<void> {
  const euid = process.geteuid?.();
  if (euid === undefined) return;
  const given = resolve(dir);
  const real = await realpath(given);
  const seen = new Set<string>();
  for (const start of [given, real]) {
    for (let above = place.itself ? start : dirname(start); !seen.has(above); above = dirname(above)) {
      seen.add(above);
      const at: Place = { path: above, itself: above === given || above === real, dir: given, place };
      const link = await lstat(above);
      if (link.isSymbolicLink()) refuseUnlessOurs(link, at, euid, 'a link');
      const stats = link.isSymbolicLink() ? await stat(above) : link;
      refuseUnlessOurs(stats, at, euid, 'a directory');
      const sticky = (stats.mode & 0o1000) !== 0;
      const othersWrite = (stats.mode & 0o002) !== 0;
      const foreignGroupWrite = (stats.mode & 0o020) !== 0 && stats.gid !== process.getegid?.();
      if (!sticky && (othersWrite || foreignGroupWrite)) {
        const mode = `0${(stats.mode & 0o7777).toString(8)}`;
        throw new FerryError(
          place.code,
          `${where(at)} is writable by ${othersWrite ? 'others' : 'its group'} (mode ${mode}), ` +
            `${whoCould(at)}; run \`chmod go-w ${above}\` (or \`chmod +t\`, as /tmp is) or ` +
            `keep ${place.name} elsewhere`,
        );
      }
      if (above === dirname(above)) break;
    }
  }
}

/** A directory on the way: its path, whether it is the guarded directory itself, that directory, its place. */
interface Place {
  readonly path: string;
  readonly itself: boolean;
  readonly dir: string;
  readonly place: GuardedPlace;
}

/** Refuses `at` (a directory on the way, or a link there) unless the user or root owns it. */
function refuseUnlessOurs(stats: Stats, at: Place, euid: number, kind: 'a link' | 'a directory'): void {
  if (stats.uid === euid || stats.uid === 0) return;
  const could = kind === 'a link' ? 'who could point it elsewhere' : whoCould(at);
  const chown = kind === 'a link' ? `chown -h ${euid} ${at.path}` : `chown ${euid} ${at.path}`;
  throw new FerryError(
    at.place.code,
    `${where(at)} is ${kind} owned by uid ${stats.uid}, not by you (uid ${euid}) or root, ${could}; if it ` +
      `is yours, run \`${chown}\`, else keep ${at.place.name} elsewhere`,
  );
}

/** `PATH, above the home DIR,` or, for the guarded directory itself, `PATH, the server root,`. */
function where(at: Place): string {
  return at.itself ? `${at.path}, ${at.place.name},` : `${at.path}, above ${at.place.name} ${at.dir},`;
}

/** What whoever may write (or own) the directory could do. */
function whoCould(at: Place): string {
  return at.itself
    ? 'who could move what is in it away and put their own in its place'
    : `who could move ${at.place.name} away and put their own in its place`;
}
