// A server's entries that name one of DST's excluded entries in other letters (stop 37's security pass).
// Patterns match names as written, as rsync's do; but a case-insensitive DST (vfat and exFAT media, CIFS, ext4
// `casefold` directories, macOS's default, which also takes either Unicode normalization of a name) opens
// `SECRETS/key.txt` as the user's excluded `secrets/key.txt`, so a hostile server listing the other spelling had
// a file written into what `--exclude secrets/` protects. One policy for `sync` down and `get -r`: both find
// DST's excluded entries (a sync by its walk of DST, a get by `excludedOnTheWay`) and leave out their aliases
// here. Pure: no file system.
import { foldedName } from './folded-name.js';

/**
 * The entries of `source` (a server's listing, patterns applied) whose path, or a directory above it, is one
 * of DST's excluded entries (`excludedTops`, each the top of what a pattern left out of the walk of DST) in
 * other letters: on a case-insensitive DST they would be written into it. Each entry's names are folded one
 * by one from the top only while they are on the way to an excluded entry (most part at their first name),
 * and never past the deepest one (a deep hostile listing costs no more than DST's excluded entries allow).
 */
export function aliasesOfExcluded<T extends { path: string }>(
  excludedTops: readonly { path: string }[],
  source: readonly T[],
): T[] {
  if (excludedTops.length === 0) return [];
  const exact = new Set(excludedTops.map((e) => e.path));
  // The excluded entries' folded names as a tree, one name a level: an entry is looked up a name at a time,
  // never by its whole prefix (a Set of prefixes hashed each prefix whole: quadratic in the depth, ~0.9 s of
  // CPU for 100k listed entries beside 100k excluded files 10 deep, `--exclude '*.o'`).
  const root: FoldedLevel = new Map();
  let deepest = 0;
  for (const { path } of excludedTops) {
    const names = path.split('/');
    deepest = Math.max(deepest, names.length);
    let level = root;
    let node: FoldedNode | undefined;
    for (const name of names) {
      const folded = foldedName(name);
      node = level.get(folded);
      if (node === undefined) level.set(folded, (node = { below: new Map(), excluded: false }));
      level = node.below;
    }
    node!.excluded = true;
  }
  return source.filter((entry) => {
    const names = entry.path.split('/', deepest);
    let level = root;
    for (let depth = 0; depth < names.length; depth++) {
      const node = level.get(foldedName(names[depth]!));
      if (node === undefined) return false;
      // The very path (`secrets`, a file SRC names where DST's directory is) is the patterns' and the plan's.
      if (node.excluded && !exact.has(names.slice(0, depth + 1).join('/'))) return true;
      level = node.below;
    }
    return false;
  });
}

/** One name of DST's excluded entries, folded: whether an excluded entry ends there, and the names below. */
interface FoldedNode {
  readonly below: FoldedLevel;
  excluded: boolean;
}

type FoldedLevel = Map<string, FoldedNode>;

/** Why a listed entry that names an excluded one in other letters is left out (`entry-skipped`). */
export const ALIAS_OF_EXCLUDED =
  'it names an excluded entry of the destination in other letters (a case-insensitive file system takes them as one)';

/**
 * `source` without its aliases of DST's excluded entries (`aliasesOfExcluded`), each left out reported through
 * `onSkip` once for the top of what it leaves out: a listing of many below one is not as many lines.
 */
export function leaveOutAliases<T extends { path: string }>(
  excludedTops: readonly { path: string }[],
  source: readonly T[],
  onSkip: (path: string, reason: string) => void,
): T[] {
  const aliases = new Set(aliasesOfExcluded(excludedTops, source));
  if (aliases.size === 0) return [...source];
  const aliasPaths = new Set([...aliases].map((e) => e.path));
  for (const { path } of aliases)
    if (!aliasPaths.has(path.slice(0, Math.max(0, path.lastIndexOf('/'))))) onSkip(path, ALIAS_OF_EXCLUDED);
  return source.filter((e) => !aliases.has(e));
}
