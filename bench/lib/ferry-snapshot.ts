import { cp, mkdir, symlink, copyFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root (bench/lib/ is two levels below it). */
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Copies the CLI as built right now (`bin/`, `dist/`, `package.json`; `node_modules` linked) into
 * `dir` and returns the path of its `bin/ferry`. Every ferry process of a run starts from this copy, so a
 * rebuild in the work tree while the benchmark runs (someone else working on ferry) can neither break the
 * run half way nor mix two versions in one table.
 */
export async function snapshotFerry(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await cp(join(REPO_ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  // All of bin/: its package.json makes bin/ferry a CommonJS script (the package's own says "module").
  await cp(join(REPO_ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  await copyFile(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return join(dir, 'bin', 'ferry');
}
