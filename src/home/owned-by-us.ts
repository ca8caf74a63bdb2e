import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FerryError } from '../errors/index.js';
import { refuseUnlessAncestorsOurs, type GuardedPlace } from './ancestors-ours.js';

/** The home, as the checks of the directories above it name it. */
const HOME_PLACE: GuardedPlace = { code: 'HOME_UNSAFE', name: 'the home' };

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
  await refuseUnlessAncestorsOurs(dir, HOME_PLACE);
}
