import type { Stats } from 'node:fs';
import { lstat, readlink, realpath, stat } from 'node:fs/promises';
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
  // The kernel's, not `given`'s: `resolve` drops `link/..` by its letters, the kernel climbs from the target.
  const real = await realpath(dir);
  const seen = new Set<string>();
  const judge = async (path: string | Buffer, onTheWay = false): Promise<void> => {
    const bytes = bytesOf(path);
    if (seen.has(bytes)) return;
    seen.add(bytes);
    const itself = bytes === bytesOf(given) || bytes === bytesOf(real);
    await refuseUnlessTrusted({ path, shown: path.toString(), itself, onTheWay, dir: given, place }, euid);
  };
  for (const start of [given, real])
    for (let above = place.itself ? start : dirname(start); ; above = dirname(above)) {
      await judge(above);
      if (above === dirname(above)) break;
    }
  // Then every directory the kernel enters and every link it follows on its way (stop 44): a link's target may
  // lie in a directory on neither path (`~/root -> /shared/current -> ~/data`), whose writer re-points the
  // middle link between two starts, as the swap above. The directory itself is the caller's to check (`itself`).
  for (const step of await kernelWay(given, place))
    if (place.itself || bytesOf(step) !== bytesOf(real)) await judge(step, true);
}

/** A path's bytes, one character each (latin1), so that two paths compare equal only byte for byte. */
function bytesOf(path: string | Buffer): string {
  return (typeof path === 'string' ? Buffer.from(path) : path).toString('latin1');
}

/** Links followed on one way before the kernel gives up (Linux's MAXSYMLINKS, ELOOP). */
const MAX_LINKS_FOLLOWED = 40;

/**
 * Every directory the kernel looks a name up in and every link it follows to resolve `path` (absolute), in
 * that order, `..` climbing from where the way is (as the kernel does, not by the letters of the path): the
 * places whose writer could change where `path` leads. As bytes: a link's target is bytes, and its string
 * replaces what is not UTF-8 with U+FFFD, a name that leads to another place or none (directory-names.ts says
 * the same of names): a link to `caf\xe9` on the way failed the start with ENOENT (stop 45).
 */
async function kernelWay(path: string, place: GuardedPlace): Promise<Buffer[]> {
  const way = [pathOf([])];
  const rest = namesOf(Buffer.from(path));
  /** The names from `/` to where the way is. */
  let at: Buffer[] = [];
  let links = 0;
  for (let name = rest.shift(); name !== undefined; name = rest.shift()) {
    if (name.equals(DOT_DOT)) {
      at = at.slice(0, -1);
      continue;
    }
    const next = [...at, name];
    way.push(pathOf(next));
    if (!(await lstat(pathOf(next))).isSymbolicLink()) {
      at = next;
      continue;
    }
    if (++links > MAX_LINKS_FOLLOWED)
      throw new FerryError(
        place.code,
        `more than ${MAX_LINKS_FOLLOWED} links on the way to ${place.name} ${path}`,
      );
    const target = await readlink(pathOf(next), { encoding: 'buffer' });
    if (target[0] === SLASH) at = [];
    rest.unshift(...namesOf(target));
  }
  return way;
}

const SLASH = 0x2f;
const DOT_DOT = Buffer.from('..');

/** The path of `names` below `/`. */
function pathOf(names: readonly Buffer[]): Buffer {
  return names.length === 0
    ? Buffer.from('/')
    : Buffer.concat(names.flatMap((name) => [Buffer.from('/'), name]));
}

/** The names of `path`, but the empty ones and `.`, which the kernel passes over. */
function namesOf(path: Buffer): Buffer[] {
  const names: Buffer[] = [];
  for (let from = 0; from <= path.length;) {
    const end = path.indexOf(SLASH, from);
    const name = path.subarray(from, end === -1 ? path.length : end);
    if (name.length > 0 && !(name.length === 1 && name[0] === 0x2e)) names.push(name);
    if (end === -1) break;
    from = end + 1;
  }
  return names;
}

/**
 * Refuses `at` (a directory on the way, or a link there and its target) unless the user or root owns it and
 * no one else may write it (a sticky directory, or one of the user's own primary group, may be).
 */
async function refuseUnlessTrusted(at: Place, euid: number): Promise<void> {
  const { path, place } = at;
  const link = await lstat(path);
  if (link.isSymbolicLink()) refuseUnlessOurs(link, at, euid, 'a link');
  const stats = link.isSymbolicLink() ? await stat(path) : link;
  refuseUnlessOurs(stats, at, euid, 'a directory');
  const sticky = (stats.mode & 0o1000) !== 0;
  const othersWrite = (stats.mode & 0o002) !== 0;
  const foreignGroupWrite = (stats.mode & 0o020) !== 0 && stats.gid !== process.getegid?.();
  if (!sticky && (othersWrite || foreignGroupWrite)) {
    const mode = `0${(stats.mode & 0o7777).toString(8)}`;
    throw new FerryError(
      place.code,
      `${where(at)} is writable by ${othersWrite ? 'others' : 'its group'} (mode ${mode}), ` +
        `${whoCould(at)}; run \`chmod go-w ${at.shown}\` (or \`chmod +t\`, as /tmp is) or ` +
        `keep ${place.name} elsewhere`,
    );
  }
}

/** A directory on the way: its path, whether it is the guarded directory itself, that directory, its place. */
interface Place {
  /** Bytes for a place on the kernel's way (`kernelWay`), which may not be UTF-8. */
  readonly path: string | Buffer;
  /** The path as a refusal names it (U+FFFD for each byte that is not UTF-8). */
  readonly shown: string;
  readonly itself: boolean;
  /** Neither the directory nor above it: on the way a link leads to it. */
  readonly onTheWay: boolean;
  readonly dir: string;
  readonly place: GuardedPlace;
}

/** Refuses `at` (a directory on the way, or a link there) unless the user or root owns it. */
function refuseUnlessOurs(stats: Stats, at: Place, euid: number, kind: 'a link' | 'a directory'): void {
  if (stats.uid === euid || stats.uid === 0) return;
  const could = kind === 'a link' ? 'who could point it elsewhere' : whoCould(at);
  const chown = kind === 'a link' ? `chown -h ${euid} ${at.shown}` : `chown ${euid} ${at.shown}`;
  throw new FerryError(
    at.place.code,
    `${where(at)} is ${kind} owned by uid ${stats.uid}, not by you (uid ${euid}) or root, ${could}; if it ` +
      `is yours, run \`${chown}\`, else keep ${at.place.name} elsewhere`,
  );
}

/**
 * `PATH, above the home DIR,`, `PATH, on the way to the home DIR,` (a link leads through it) or, for the
 * guarded directory itself, `PATH, the server root,`.
 */
function where(at: Place): string {
  if (at.itself) return `${at.shown}, ${at.place.name},`;
  return `${at.shown}, ${at.onTheWay ? 'on the way to' : 'above'} ${at.place.name} ${at.dir},`;
}

/** What whoever may write (or own) the directory could do. */
function whoCould(at: Place): string {
  if (at.itself) return 'who could move what is in it away and put their own in its place';
  return at.onTheWay
    ? `who could point the way to ${at.place.name} elsewhere`
    : `who could move ${at.place.name} away and put their own in its place`;
}
