import { mkdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { FerryError } from '../errors/index.js';
import { RESERVED_ROOT_COMPONENT } from '../protocol/index.js';
import type { ServeOptions } from './serve-options.js';

/**
 * Makes the server's root ready before it listens: a directory (created if missing, refused if a file), by its
 * real path, apart from the server's home, with the partials' directory under `.ferry/` (mode 0700).
 */
export async function prepareServerRoot(
  options: Pick<ServeOptions, 'root' | 'home' | 'pairing'>,
): Promise<{ root: string; partialDir: string }> {
  const existing = await stat(options.root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing && !existing.isDirectory())
    throw new FerryError(
      'USAGE_INVALID',
      'the server root is a file, not a directory: name a directory (it is created if missing)',
      { subject: options.root },
    );
  await mkdir(options.root, { recursive: true, mode: 0o755 });
  // Resolve the root once: every path check below compares against the real directory.
  const root = await realpath(options.root);
  const home = options.home ?? options.pairing?.homeDir;
  if (home !== undefined) await assertApart(root, home);
  const partialDir = join(root, RESERVED_ROOT_COMPONENT, 'partial');
  await mkdir(partialDir, { recursive: true, mode: 0o700 });
  return { root, partialDir };
}

/**
 * A client that may read the root must never reach the server's own home: with `--root ~` it could download
 * `identity.key` and, with upload permission, rewrite the allow-list and the invites (docs/SECURITY.md,
 * "Root and home kept apart"). Real paths are compared, so a link to either side does not hide an overlap.
 */
async function assertApart(root: string, home: string): Promise<void> {
  const realHome = await realpath(home).catch(() => undefined);
  if (realHome === undefined) return; // no home yet: nothing in it to expose
  const inside = (outer: string, inner: string): boolean => {
    const rel = relative(outer, inner);
    return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
  };
  if (inside(root, realHome))
    throw new FerryError(
      'ROOT_CONTAINS_HOME',
      'the root contains the ferry home; choose a root apart from it',
    );
  if (inside(realHome, root))
    throw new FerryError(
      'ROOT_CONTAINS_HOME',
      'the root is inside the ferry home; choose a root apart from it',
    );
}
