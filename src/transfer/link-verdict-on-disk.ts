import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { linkResolution, type FinalLinkVerdict, type TreeNode } from './link-target.js';

/** Paths one check may look up on disk: a target of 4096 bytes through 40 links stays well below it. */
const MAX_LOOKUPS = 100_000;

/**
 * Paths answered from what the check already knows before it lets the event loop turn: such answers need no
 * I/O, so a long run of them (a target through 40 links of 4 KiB each) would otherwise hold every other
 * session's timers, handshake deadlines included.
 */
const LOOKUPS_PER_TURN = 256;

const TOP: TreeNode = { kind: 'dir' };
const MISSING: TreeNode = { kind: 'missing' };

/**
 * {@link resolveLinkTarget} against the tree on disk under `root`, right before the link at `link` is
 * made with `target` (the tree "as it will exist": what is there now, with this link in place). Each path
 * the resolution asks about is `lstat`ed component by component from `root`, never through a link; a link's
 * target is read with `readlink`. The resolution runs once (`linkResolution`), each path looked up once, so
 * the work grows with the paths asked, not with their square or cube. Only `inside` or `outside` comes back.
 */
export async function linkVerdictOnDisk(
  root: string,
  link: readonly string[],
  target: string,
  rootDepth: number,
): Promise<FinalLinkVerdict> {
  const known = new Map<string, TreeNode>([[link.join('/'), { kind: 'link', target }]]);
  const walk = linkResolution(link, target, rootDepth);
  let step = walk.next();
  for (let lookups = 1; !step.done; lookups++) {
    if (lookups > MAX_LOOKUPS)
      return { verdict: 'outside', code: 'PATH_ESCAPES_ROOT', reason: 'link target is too deep to check' };
    if (lookups % LOOKUPS_PER_TURN === 0) await nextTurn();
    step = walk.next(await nodeOf(root, step.value, known));
  }
  return step.value;
}

/** What is at `components`, as seen from `root` one component at a time without following a link. */
async function nodeOf(
  root: string,
  components: readonly string[],
  known: Map<string, TreeNode>,
): Promise<TreeNode> {
  const key = components.join('/');
  const seen = known.get(key);
  if (seen !== undefined) return seen;
  const last = components.length - 1;
  // The parent is almost always known (the resolution asks from the top down): one lookup, not a walk.
  const parent =
    last === 0
      ? TOP
      : (known.get(key.slice(0, key.length - components[last]!.length - 1)) ??
        (await learnPrefixes(root, components.slice(0, last), known)));
  // Below anything but a real directory there is nothing: never look through a link or a file.
  const node = parent.kind === 'dir' ? await nodeAt(join(root, ...components)) : MISSING;
  known.set(key, node);
  return node;
}

/**
 * What is at `components`, learning each of its prefixes not known yet from the top down (a client's root
 * never asked about, the link's directories below a missing one), each key built from the one above it.
 */
async function learnPrefixes(
  root: string,
  components: readonly string[],
  known: Map<string, TreeNode>,
): Promise<TreeNode> {
  let parent = TOP;
  let key = '';
  for (let i = 0; i < components.length; i++) {
    // Below anything but a real directory there is nothing: the rest need neither a look nor a key.
    if (parent.kind !== 'dir') return MISSING;
    key = i === 0 ? components[0]! : `${key}/${components[i]!}`;
    let node = known.get(key);
    if (node === undefined) {
      node = await nodeAt(join(root, ...components.slice(0, i + 1)));
      known.set(key, node);
    }
    parent = node;
  }
  return parent;
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
