// DST's excluded entries that a `get -r`'s listing reaches, for `leaveOutAliases` (excluded-aliases.ts). A sync
// down walks all of DST and notes them on the way; a get does not walk DST, so its patterns left out only what
// the server listed as written, and on a case-insensitive DST `SECRETS/new.txt` against `--exclude secrets/`
// landed in the user's `secrets/` (stop 37, probed on a lower-casing FUSE file system).
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { foldedName } from './folded-name.js';
import type { ExcludePatterns } from './sync-exclude.js';

/** One of DST's entries the patterns exclude, relative to the listed tree's local top. */
export interface ExcludedLocalEntry {
  path: string;
  kind: 'dir' | 'file' | 'other';
}

/**
 * The entries under `localTop` that `excluded` leaves out and that a listed entry (`listed`, paths relative
 * to the same top) names, or passes through, in any letters (`foldedName`). Only the local directories some
 * listed entry passes through, in any letters, are read, each once, and never through a link (a download
 * never writes through one); each listed name is folded only while its directory above is one of DST's, so a
 * deep hostile listing costs no more than the local tree it meets. A missing `localTop` holds nothing.
 */
export async function excludedOnTheWay(
  localTop: string,
  excluded: ExcludePatterns,
  listed: readonly { path: string }[],
): Promise<ExcludedLocalEntry[]> {
  const found: ExcludedLocalEntry[] = [];
  if (excluded.empty || listed.length === 0) return found;
  const visit = async (dir: string, relative: string, depth: number, group: string[][]): Promise<void> => {
    // This directory's listed names, folded: each with the entries that pass through it (a directory) or end.
    const below = new Map<string, string[][]>();
    const named = new Set<string>();
    for (const names of group) {
      const name = foldedName(names[depth]!);
      named.add(name);
      if (names.length > depth + 1) {
        const passing = below.get(name);
        if (passing) passing.push(names);
        else below.set(name, [names]);
      }
    }
    const local = await namesIn(dir);
    for (const name of local) {
      const folded = foldedName(name);
      if (!named.has(folded)) continue;
      const full = join(dir, name);
      const stats = await lstat(full).catch(() => undefined);
      if (stats === undefined) continue;
      const path = relative === '' ? name : `${relative}/${name}`;
      if (excluded.excludes(path, stats.isDirectory())) {
        found.push({ path, kind: stats.isDirectory() ? 'dir' : stats.isFile() ? 'file' : 'other' });
        continue;
      }
      const passing = below.get(folded);
      if (passing && stats.isDirectory()) await visit(full, path, depth + 1, passing);
    }
  };
  await visit(
    localTop,
    '',
    0,
    listed.map((e) => e.path.split('/')),
  );
  return found;
}

/** The names a local directory holds; none when it is missing or not a directory (the download makes it). */
async function namesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const dirent of await opendir(dir)) names.push(dirent.name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Anything else (EACCES) fails the get: it cannot tell what the patterns protect there.
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  return names;
}
