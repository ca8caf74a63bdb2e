import { FerryError } from '../errors/index.js';

/**
 * Whether a file of ferry's state (a partial's data or state file, a temporary of it) may be trusted as
 * this user's own: owned by the user running ferry (or root, who can write anything anyway) and writable by
 * no one else, as OpenSSH asks of `authorized_keys` (StrictModes). A client keeps its partials among the
 * user's files (`.NAME.ferry-part`, `.NAME.ferry-state`), where another local user who may write the directory
 * could plant a pair: its log is not keyed, so a planted partial would count the planter's bytes as verified
 * (SECURITY.md, "Partials another user planted"). Ferry makes them 0600. Always true where there are no uids.
 */
export function writableOnlyByUs(stats: {
  readonly uid: number | bigint;
  readonly mode: number | bigint;
}): boolean {
  const euid = process.geteuid?.();
  if (euid === undefined) return true;
  const uid = Number(stats.uid);
  return (uid === euid || uid === 0) && (Number(stats.mode) & 0o022) === 0;
}

/**
 * Throws FILE_EXISTS naming `path` (this side's own path: never on the wire) when the file opened there is not
 * {@link writableOnlyByUs}: a file someone else could have written is in the way of ferry's state, and only
 * its removal helps (`--overwrite` never replaces it).
 */
export function refuseUnlessOurs(
  stats: { readonly uid: number | bigint; readonly mode: number | bigint },
  path: string,
): void {
  if (!writableOnlyByUs(stats))
    throw new FerryError('FILE_EXISTS', 'a file another user may write is in the way of a partial', {
      subject: path,
    });
}
