import { lstat, opendir, readlink, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { parseRemotePath } from '../protocol/index.js';
import { assertLinkStaysInside } from './link-target.js';

/** A local directory tree as a manifest (PROTOCOL.md §5.10): relative paths use '/', whatever the OS. */
export interface LocalTree {
  files: Array<{ localPath: string; relative: string }>;
  /** Every directory including the top one, deepest first, so each is finished after its contents. */
  dirs: Array<{ relative: string; mode: number; mtimeMs: number }>;
  /** Links whose target stays inside the tree. */
  links: Array<{ relative: string; target: string; mtimeMs: number }>;
}

/**
 * Walks `root` without following any link below it. The top directory is named by its base name, as `scp -r`
 * does. Entries that cannot travel are reported through `onSkip` and left out: links pointing outside
 * the tree (or absolute), special files (sockets, fifos, devices), and names that are not valid remote
 * path components.
 */
export async function walkLocalTree(
  root: string,
  onSkip: (relative: string, reason: string) => void,
): Promise<LocalTree> {
  // The directory the user names is theirs, even through a link (`send -r ~/photos-link` like `scp -r`);
  // only what lies under it is never followed.
  const top = await stat(root);
  if (!top.isDirectory()) throw new FerryError('PATH_INVALID', 'not a directory');
  const tree: LocalTree = { files: [], dirs: [], links: [] };
  const topName = basename(root.replace(/\/+$/, '')) || 'root';
  const visit = async (dir: string, relative: string, mode: number, mtimeMs: number): Promise<void> => {
    const names: string[] = [];
    for await (const dirent of await opendir(dir)) names.push(dirent.name);
    names.sort();
    for (const name of names) {
      const childRelative = `${relative}/${name}`;
      try {
        parseRemotePath(childRelative);
      } catch {
        onSkip(childRelative, 'name cannot be sent');
        continue;
      }
      const full = join(dir, name);
      const stats = await lstat(full);
      if (stats.isDirectory()) {
        await visit(full, childRelative, stats.mode & 0o7777, Math.trunc(stats.mtimeMs));
      } else if (stats.isFile()) {
        tree.files.push({ localPath: full, relative: childRelative });
      } else if (stats.isSymbolicLink()) {
        const target = await readlink(full);
        try {
          assertLinkStaysInside(childRelative.split('/'), target, 1);
          tree.links.push({ relative: childRelative, target, mtimeMs: Math.trunc(stats.mtimeMs) });
        } catch {
          onSkip(childRelative, 'symbolic link points outside the tree');
        }
      } else {
        onSkip(childRelative, 'not a regular file, directory or link');
      }
    }
    tree.dirs.push({ relative, mode, mtimeMs });
  };
  await visit(root, topName, top.mode & 0o7777, Math.trunc(top.mtimeMs));
  return tree;
}
