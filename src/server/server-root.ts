import type { Stats } from 'node:fs';
import { lstat, mkdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { FerryError } from '../errors/index.js';
import { RESERVED_ROOT_COMPONENT } from '../protocol/index.js';
import { writableOnlyByUs } from '../transfer/index.js';
import { DirectoryIdentity, refuseUnlessAncestorsOurs, type GuardedPlace } from '../home/index.js';
import type { ServeOptions } from './serve-options.js';

/**
 * Makes the server's root ready before it listens: a directory (created if missing, refused if a file), by its
 * real path, apart from the server's home, with the partials' directory under `.ferry/` (mode 0700), both
 * checked as the server's own.
 */
export async function prepareServerRoot(
  options: Pick<ServeOptions, 'root' | 'home' | 'ownFiles' | 'pairing'>,
): Promise<{ root: string; partialDir: string; rootServed: DirectoryIdentity }> {
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
  await refuseUnlessAncestorsOurs(options.root, ROOT_PLACE);
  // Resolve the root once: every path check below compares against the real directory.
  const root = await realpath(options.root);
  const home = options.home ?? options.pairing?.homeDir;
  if (home !== undefined) await assertApart(root, home);
  for (const file of options.ownFiles ?? []) await assertOutside(root, file);
  const stateDir = join(root, RESERVED_ROOT_COMPONENT);
  const partialDir = join(stateDir, 'partial');
  await ownDirectory(stateDir);
  await ownDirectory(partialDir);
  // The directory served, which each admission checks is still the one the root names (stop 44).
  return { root, partialDir, rootServed: await DirectoryIdentity.of(root) };
}

/**
 * The root is held to the rule of the directories above a home (stop 43): whoever may write a directory above
 * it could rename it away and put a link in its place to another directory of the server user's (`~/.ssh`),
 * served at the next start to every client that may read. The root itself is checked too, as OpenSSH's
 * ChrootDirectory checks the directory it serves and not only those above: whoever may write it (or owns it,
 * and may `chmod` it) could rename `.ferry` away after the check below and plant their own partials.
 */
const ROOT_PLACE: GuardedPlace = { code: 'ROOT_UNSAFE', name: 'the server root', itself: true };

/**
 * Makes `path` (mode 0700) unless something is there, never through a link, and refuses to start unless it is
 * a directory of the server's own that no one else may write, as OpenSSH's StrictModes asks of `~/.ssh`.
 * `mkdir -p` followed a link planted before the first start: a local user who could write the root then
 * could point the server's partials (whose logs are not keyed, SECURITY.md "Resuming from a partial closed
 * cleanly") into a directory of theirs and rewrite them between sessions.
 */
async function ownDirectory(path: string): Promise<void> {
  const found = await lstatOrNone(path);
  if (found === undefined)
    await mkdir(path, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err; // made meanwhile: judged below like any other
    });
  const stats = found ?? (await lstat(path));
  const why = stats.isSymbolicLink()
    ? 'is a symbolic link'
    : !stats.isDirectory()
      ? 'is not a directory'
      : !writableOnlyByUs(stats)
        ? "is not the server user's own (another owner, or writable by others)"
        : undefined;
  if (why !== undefined)
    throw new FerryError(
      'SERVER_STATE_UNSAFE',
      `the server's state directory ${why}: remove it, or make it the server user's with mode 0700`,
      { subject: path },
    );
}

async function lstatOrNone(path: string): Promise<Stats | undefined> {
  return lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
}

/**
 * A client that may read the root must never reach the server's own home: with `--root ~` it could download
 * `identity.key` and, with upload permission, rewrite the allow-list and the invites (docs/SECURITY.md,
 * "Root and home kept apart"). Real paths are compared, so a link to either side does not hide an overlap.
 */
async function assertApart(root: string, home: string): Promise<void> {
  const realHome = await realpath(home).catch(() => undefined);
  if (realHome === undefined) return; // no home yet: nothing in it to expose
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

/**
 * A file of the server's own (`ServeOptions.ownFiles`: its settings, its log) must lie outside the root, its
 * real path compared as the home's is: inside, a client could rewrite it or read it (docs/SECURITY.md, "Root
 * and home kept apart").
 */
async function assertOutside(root: string, file: string): Promise<void> {
  const real = await realpath(file).catch(() => undefined);
  if (real !== undefined && inside(root, real))
    throw new FerryError(
      'CONFIG_INVALID',
      "the server root contains this file of the server's own, which a client could rewrite or read; keep it outside the root",
      { subject: file },
    );
}

/** Whether `inner` is `outer` or lies under it (both real paths). */
function inside(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
