// DST's excluded entries that a `get -r`'s listing reaches, for `leaveOutAliases` (excluded-aliases.ts). A sync
// down walks all of DST and notes them on the way; a get does not walk DST, so its patterns left out only what
// the server listed as written, and on a case-insensitive DST `SECRETS/new.txt` against `--exclude secrets/`
// landed in the user's `secrets/` (stop 37, probed on a lower-casing FUSE file system).
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { directoryNames } from '../transfer/index.js';
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
  /**
   * `dirs`: the local directories whose names fold to one listed path (one on a case-insensitive DST; on a
   * case-sensitive one `docs/` and `DOCS/` may both be there), `group` the listed entries below that path.
   * Visited together, so each listed name is folded once: one by one, the group's names were folded again for
   * each of them, and a DST holding `a/` and `A/` at every level (a hostile server's earlier download can make
   * them) had a listing's entries folded once per local directory, 2^depth times.
   */
  const visit = async (
    dirs: ReadonlyArray<{ full: string; relative: string }>,
    depth: number,
    group: string[][],
  ): Promise<void> => {
    // The listed names of this level, folded: each with the entries that pass through it (a directory).
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
    const next = new Map<string, Array<{ full: string; relative: string }>>();
    for (const { full: dir, relative } of dirs)
      for (const name of await namesIn(dir)) {
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
        if (!stats.isDirectory() || !below.has(folded)) continue;
        const same = next.get(folded);
        if (same) same.push({ full, relative: path });
        else next.set(folded, [{ full, relative: path }]);
      }
    for (const [folded, passing] of next) await visit(passing, depth + 1, below.get(folded)!);
  };
  await visit(
    [{ full: localTop, relative: '' }],
    0,
    listed.map((e) => e.path.split('/')),
  );
  return found;
}

/** The names a local directory holds; none when it is missing or not a directory (the download makes it). */
async function namesIn(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    // One that is not UTF-8 is no listed name in other letters (directory-names.ts).
    for await (const { name, utf8 } of directoryNames(dir)) if (utf8) names.push(name);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Anything else (EACCES) fails the get: it cannot tell what the patterns protect there.
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
  return names;
}
