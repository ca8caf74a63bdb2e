import { lstat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * How many parent directories of `components` under `root` do not exist yet, i.e. how many a write there
 * would create (charged against the client's quota, see StorageLimits.chargeEntries). Looks deepest first,
 * so the usual case (the parent exists, or this session already walked it) costs one `lstat` or none. Only
 * counts: the write itself still resolves the path without following links (`resolveUnderRoot`).
 */
export async function missingParents(
  root: string,
  components: readonly string[],
  knownDirs?: ReadonlySet<string>,
): Promise<number> {
  const parents = components.length - 1;
  for (let depth = parents; depth > 0; depth--) {
    const dir = join(root, ...components.slice(0, depth));
    if (knownDirs?.has(dir)) return parents - depth;
    try {
      await lstat(dir);
      return parents - depth;
    } catch {
      // missing: look one level up
    }
  }
  return Math.max(0, parents);
}
