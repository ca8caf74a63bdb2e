import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveLinkTarget, type LinkVerdict, type TreeNode } from './link-target.js';

/** Paths one check may look up on disk: a target of 4096 bytes through 40 links stays well below it. */
const MAX_LOOKUPS = 100_000;

/**
 * {@link resolveLinkTarget} against the tree on disk under `root`, right before the link at `link` is
 * made with `target` (the tree "as it will exist": what is there now, with this link in place). Each path
 * the resolver asks about is `lstat`ed component by component from `root`, never through a link; a link's
 * target is read with `readlink`. Only `inside` or `outside` comes back.
 */
export async function linkVerdictOnDisk(
  root: string,
  link: readonly string[],
  target: string,
  rootDepth: number,
): Promise<Exclude<LinkVerdict, { verdict: 'unknown' }>> {
  const known = new Map<string, TreeNode>([[link.join('/'), { kind: 'link', target }]]);
  const lookup = (components: readonly string[]): TreeNode | undefined => known.get(components.join('/'));
  for (let lookups = 0; lookups < MAX_LOOKUPS; lookups++) {
    const verdict = resolveLinkTarget(lookup, link, target, rootDepth);
    if (verdict.verdict !== 'unknown') return verdict;
    await learn(root, verdict.components, known);
  }
  return { verdict: 'outside', code: 'PATH_ESCAPES_ROOT', reason: 'link target is too deep to check' };
}

/** Records what is at `components` and at each of its prefixes, looking from `root` without following links. */
async function learn(
  root: string,
  components: readonly string[],
  known: Map<string, TreeNode>,
): Promise<void> {
  let path = root;
  let parent: TreeNode = { kind: 'dir' };
  for (let i = 0; i < components.length; i++) {
    path = join(path, components[i]!);
    const key = components.slice(0, i + 1).join('/');
    let node = known.get(key);
    if (node === undefined) {
      // Below anything but a real directory there is nothing: never look through a link or a file.
      node = parent.kind === 'dir' ? await nodeAt(path) : { kind: 'missing' };
      known.set(key, node);
    }
    parent = node;
  }
}

async function nodeAt(path: string): Promise<TreeNode> {
  try {
    const stats = await lstat(path);
    if (stats.isSymbolicLink()) return { kind: 'link', target: await readlink(path) };
    if (stats.isDirectory()) return { kind: 'dir' };
    return { kind: stats.isFile() ? 'file' : 'other' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    throw err;
  }
}
