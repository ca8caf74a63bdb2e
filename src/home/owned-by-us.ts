import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FerryError } from '../errors/index.js';

/**
 * Refuses (HOME_UNSAFE, naming the path: a local error, never sent) a file of the home, or the home directory
 * that holds it, owned by another user: OpenSSH's `secure_path` asks the same of `authorized_keys` and the
 * directories above it (owner the user or root). The mode checks beside each read say who else may write a
 * file; the owner may always `chmod` it back, so a file another user owns (the key, the allow-list, the known
 * servers) is theirs to change whenever they like, whatever its mode now. No uids, nothing to check (Windows).
 * `code`: CONFIG_INVALID for a file outside the home (`ferry serve --config`).
 */
export function refuseUnlessOwnedByUs(
  stats: { readonly uid: number | bigint },
  path: string,
  code: 'HOME_UNSAFE' | 'CONFIG_INVALID' = 'HOME_UNSAFE',
): void {
  const euid = process.geteuid?.();
  if (euid === undefined) return;
  const uid = Number(stats.uid);
  if (uid === euid || uid === 0) return;
  throw new FerryError(
    code,
    `${path} is owned by uid ${uid}, not by you (uid ${euid}) or root, so its owner may change whom ferry ` +
      `trusts; if it is yours, run \`chown ${euid} ${path}\`, else remove it`,
  );
}

/**
 * Checks the directory that holds the home file `path` (the home): owned by the user or root, as
 * {@link refuseUnlessOwnedByUs}, and writable by no one else, or whoever may write it can put their own
 * files under its names (a rename needs only the directory). HOME_UNSAFE naming the directory otherwise.
 */
export async function refuseUnlessHomeDirOurs(path: string): Promise<void> {
  if (process.geteuid === undefined) return;
  const dir = dirname(path);
  const stats = await stat(dir);
  refuseUnlessOwnedByUs(stats, dir);
  if ((stats.mode & 0o022) !== 0) {
    const mode = `0${(stats.mode & 0o777).toString(8)}`;
    throw new FerryError(
      'HOME_UNSAFE',
      `${dir} is writable by group or others (mode ${mode}), who could put their own files under its ` +
        `names; run \`chmod go-w ${dir}\``,
    );
  }
  await refuseUnlessAncestorsOurs(dir);
}

/**
 * Checks the directories above the home `dir`, as OpenSSH's `secure_path` checks those above
 * `authorized_keys` (stop 43): whoever may write one of them may rename the home away and put a link in its
 * place, to a directory the user owns and the attacker filled (a download of theirs: its files are the user's
 * own, with modes the sender chose), and every check of the home and its files passes there: the process
 * then speaks with the planter's key and admits whom they listed. Probed: a home under a directory of mode
 * 0777 was swapped so by uid 65534, and `ferry id` printed the planted key's ID, exit 0. Each directory on
 * the path as given (a link there owned by the user or root, as the kernel's `protected_symlinks` asks in
 * sticky directories) and on its real path must be owned by the user or root and writable by no one else,
 * with two exceptions: a sticky directory (/tmp: others may add names, never move ours), and one writable by
 * the user's own primary group (a user private group, the default of Debian and Fedora, whose umask 002
 * makes `~/.config` group-writable; Debian's OpenSSH allows the same).
 */
async function refuseUnlessAncestorsOurs(dir: string): Promise<void> {
  const given = resolve(dir);
  const real = await realpath(given);
  const seen = new Set<string>();
  for (const start of [given, real]) {
    for (let above = dirname(start); !seen.has(above); above = dirname(above)) {
      seen.add(above);
      const link = await lstat(above);
      if (link.isSymbolicLink()) refuseUnlessOwnedByUs(link, above);
      const stats = link.isSymbolicLink() ? await stat(above) : link;
      refuseUnlessOwnedByUs(stats, above);
      const sticky = (stats.mode & 0o1000) !== 0;
      const othersWrite = (stats.mode & 0o002) !== 0;
      const foreignGroupWrite = (stats.mode & 0o020) !== 0 && stats.gid !== process.getegid?.();
      if (!sticky && (othersWrite || foreignGroupWrite)) {
        const mode = `0${(stats.mode & 0o7777).toString(8)}`;
        throw new FerryError(
          'HOME_UNSAFE',
          `${above}, above the home ${dir}, is writable by ${othersWrite ? 'others' : 'its group'} ` +
            `(mode ${mode}), who could move the home away and put their own in its place; run ` +
            `\`chmod go-w ${above}\` or keep the home elsewhere`,
        );
      }
      if (above === dirname(above)) break;
    }
  }
}
