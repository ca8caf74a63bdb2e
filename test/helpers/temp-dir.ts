import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/** Creates a fresh private directory under the system temp dir; remove it with {@link removeTempDir}. */
export async function makeTempDir(prefix = 'ferry-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Removes a directory made by {@link makeTempDir} and everything in it. Missing is fine (idempotent). */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Every entry under `dir` as a sorted relative path, directories with a trailing `/`. Symbolic links are
 * listed but not followed, so a link a test planted cannot make the listing wander outside `dir`.
 */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((entry) => {
      const rel = relative(dir, join(entry.parentPath, entry.name));
      return entry.isDirectory() ? `${rel}/` : rel;
    })
    .sort();
}
