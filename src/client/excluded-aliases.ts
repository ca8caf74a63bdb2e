// A server's entries that name one of DST's excluded entries in other letters (stop 37's security pass).
// Patterns match names as written, as rsync's do; but a case-insensitive DST (vfat and exFAT media, CIFS, ext4
// `casefold` directories, macOS's default, which also takes either Unicode normalization of a name) opens
// `SECRETS/key.txt` as the user's excluded `secrets/key.txt`, so a hostile server listing the other spelling had
// a file written into what `--exclude secrets/` protects. Pure: no file system.
import { foldedName } from './folded-name.js';

/**
 * The entries of `source` (a server's listing, patterns applied) whose path, or a directory above it, is one
 * of DST's excluded entries (`excludedTops`, each the top of what a pattern left out of the walk of DST) in
 * other letters: on a case-insensitive DST they would be written into it. Only the depths of the excluded
 * entries are compared, each entry's components folded once up to the deepest (a deep hostile listing costs
 * no more than the excluded entries' depth allows).
 */
export function aliasesOfExcluded<T extends { path: string }>(
  excludedTops: readonly { path: string }[],
  source: readonly T[],
): T[] {
  if (excludedTops.length === 0) return [];
  const exact = new Set(excludedTops.map((e) => e.path));
  const folded = new Set(excludedTops.map((e) => e.path.split('/').map(foldedName).join('/')));
  const depths = [...new Set(excludedTops.map((e) => e.path.split('/').length))];
  const deepest = Math.max(...depths);
  return source.filter((entry) => {
    const components = entry.path.split('/', deepest);
    const foldedComponents = components.map(foldedName);
    return depths.some((depth) => {
      if (depth > components.length) return false;
      if (!folded.has(foldedComponents.slice(0, depth).join('/'))) return false;
      // The very path (`secrets`, a file SRC names where DST's directory is) is the patterns' and the plan's.
      return !exact.has(components.slice(0, depth).join('/'));
    });
  });
}
