import { FerryError } from '../errors/index.js';
import { RESERVED_ROOT_COMPONENT } from '../protocol/index.js';

/** What a tree holds at one path, as far as a link check needs to know (`other`: fifo, socket, device). */
export type TreeNode =
  | { readonly kind: 'dir' | 'file' | 'other' | 'missing' }
  | { readonly kind: 'link'; readonly target: string };

/**
 * What is at `components` (from the top of the tree, never through a link), or undefined when the caller
 * does not know yet: a manifest knows everything, a directory on disk is asked lazily (`linkVerdictOnDisk`).
 */
export type TreeLookup = (components: readonly string[]) => TreeNode | undefined;

/** The answer of {@link resolveLinkTarget}; `unknown` asks the caller to learn `components` and try again. */
export type LinkVerdict =
  | { readonly verdict: 'inside' }
  | {
      readonly verdict: 'outside';
      readonly code: 'PATH_ESCAPES_ROOT' | 'PATH_INVALID';
      readonly reason: string;
    }
  | { readonly verdict: 'unknown'; readonly components: readonly string[] };

/** Links followed while resolving one target before it counts as a loop; the kernel's MAXSYMLINKS. */
export const MAX_LINK_HOPS = 40;

/** One directory of the position being resolved. */
interface Step {
  readonly name: string;
  /**
   * A real directory, reached without following a link: `..` may climb out of it and the result cannot
   * change later. A position reached through a link, or a name that is missing, a file or another kind,
   * is not stable: the link may be replaced and the missing name created as a link, so `..` there refuses.
   */
  readonly stable: boolean;
  /** Not a directory (missing, a file): names below it are missing too. */
  readonly hollow: boolean;
}

type Token = { readonly part: string } | { readonly endOfLink: true };

/** A verdict once every path the resolution needed is known. */
export type FinalLinkVerdict = Exclude<LinkVerdict, { verdict: 'unknown' }>;

/**
 * {@link resolveLinkTarget} as a resumable walk: it yields each path (components from the top of the tree)
 * whose node it needs, to be resumed with that node, and returns the verdict. A caller that must fetch nodes
 * (a directory on disk, `linkVerdictOnDisk`) answers every question once, in one pass: restarting the
 * resolution after each answer would redo the whole walk per path learnt, cubic in the depth of a 4 KiB
 * path, which held a server's event loop for seconds (server fuzz, seed 1967364089).
 */
export function* linkResolution(
  link: readonly string[],
  target: string,
  rootDepth: number,
): Generator<readonly string[], FinalLinkVerdict, TreeNode> {
  const own = targetParts(target);
  if (typeof own === 'string')
    return refuse(
      own === 'has an empty component' ? 'PATH_INVALID' : 'PATH_ESCAPES_ROOT',
      `link target ${own}`,
    );
  const stack: Step[] = [];
  // Below a missing directory of the link's path the rest are missing too, to be created with it: not asked.
  let belowMissing = false;
  for (let i = 0; i < link.length - 1; i++) {
    const name = link[i]!;
    if (i >= rootDepth && !belowMissing) {
      const node = yield link.slice(0, i + 1);
      if (node.kind === 'link') return refuse('PATH_ESCAPES_ROOT', 'a directory on its path is a link');
      if (node.kind !== 'dir' && node.kind !== 'missing')
        return refuse('PATH_INVALID', 'a directory on its path is not a directory');
      belowMissing = node.kind === 'missing';
    }
    stack.push({ name, stable: true, hollow: false });
  }
  const queue: Token[] = own.map((part) => ({ part }));
  let hops = 0;
  for (let token = queue.shift(); token !== undefined; token = queue.shift()) {
    if ('endOfLink' in token) {
      // Everything a link led to can change when the link is replaced: no `..` may climb out of it.
      for (let i = 0; i < stack.length; i++) stack[i] = { ...stack[i]!, stable: false };
      continue;
    }
    const { part } = token;
    if (part === '.') continue;
    if (part === '..') {
      if (stack.length <= rootDepth) return refuse('PATH_ESCAPES_ROOT', 'link target leaves the root');
      if (!stack[stack.length - 1]!.stable)
        return refuse('PATH_ESCAPES_ROOT', 'link target climbs out of a link or a missing directory');
      stack.pop();
      continue;
    }
    if (stack.length === 0 && part.toLowerCase() === RESERVED_ROOT_COMPONENT)
      return refuse('PATH_ESCAPES_ROOT', 'link target is reserved');
    if (stack.length > 0 && stack[stack.length - 1]!.hollow) {
      stack.push({ name: part, stable: false, hollow: true });
      continue;
    }
    const node = yield [...stack.map((step) => step.name), part];
    if (node.kind === 'dir') {
      stack.push({ name: part, stable: true, hollow: false });
    } else if (node.kind === 'link') {
      if (++hops > MAX_LINK_HOPS) return refuse('PATH_ESCAPES_ROOT', 'link target has too many links');
      const next = targetParts(node.target);
      if (typeof next === 'string')
        return refuse('PATH_ESCAPES_ROOT', `link target leads through a link whose target ${next}`);
      // Resolved from the directory holding that link, which is where the position stands now.
      queue.unshift(...next.map((p) => ({ part: p })), { endOfLink: true });
    } else {
      stack.push({ name: part, stable: false, hollow: true });
    }
  }
  return { verdict: 'inside' };
}

/**
 * Decides whether the symbolic link at `link` (components from the top of the tree) with `target` stays
 * inside the tree's first `rootDepth` components, resolving the target *physically* the way the kernel
 * would: component by component, following every link the tree holds (at most MAX_LINK_HOPS), so
 * `y/..` where `y` is itself a link climbs from where `y` leads, not from the link's own directory
 * (PROTOCOL.md §5.10).
 *
 * The answer must hold for the tree as it will exist, whatever is created after the check (a later entry
 * of the same manifest, a later session, another client): `..` may only climb out of a real directory
 * reached without a link. Then a later change of any link, each checked by this same rule when it is
 * made, or a later directory, file or link at a name that is missing now, cannot move this link's
 * resolution out of the tree: its climbs are over directories that stay, and what follows a link or a
 * missing name only descends. The directories of `link` itself must be real directories (or missing, to
 * be created); absolute targets, backslashes, empty components and the reserved `.ferry` at the top of
 * the tree are refused. Pure: the caller supplies the tree through `lookup`.
 */
export function resolveLinkTarget(
  lookup: TreeLookup,
  link: readonly string[],
  target: string,
  rootDepth: number,
): LinkVerdict {
  const walk = linkResolution(link, target, rootDepth);
  for (let step = walk.next(); ;) {
    if (step.done) return step.value;
    const node = lookup(step.value);
    if (node === undefined) return { verdict: 'unknown', components: step.value };
    step = walk.next(node);
  }
}

/**
 * The same rule as {@link resolveLinkTarget}, throwing its refusal as a coded error (PUT_LINK's answer,
 * PROTOCOL.md §5.10). An `unknown` answer cannot happen with a lookup that always answers.
 */
export function assertLinkStaysInside(
  lookup: TreeLookup,
  link: readonly string[],
  target: string,
  rootDepth: number,
): void {
  const verdict = resolveLinkTarget(lookup, link, target, rootDepth);
  if (verdict.verdict === 'outside') throw new FerryError(verdict.code, verdict.reason);
  if (verdict.verdict === 'unknown') throw new FerryError('INTERNAL', 'link check needs an unknown path');
}

/**
 * A lookup over a complete list of entries (a manifest: a local tree walked, a server's listing): a path
 * not listed is missing. Keys are components joined with '/'.
 */
export function manifestLookup(entries: ReadonlyMap<string, TreeNode>): TreeLookup {
  return (components) => entries.get(components.join('/')) ?? { kind: 'missing' };
}

function targetParts(target: string): string[] | 'is absolute' | 'has an empty component' {
  if (target.startsWith('/') || target.includes('\\')) return 'is absolute';
  const parts = target.split('/');
  if (parts.some((part) => part === '')) return 'has an empty component';
  return parts;
}

function refuse(code: 'PATH_ESCAPES_ROOT' | 'PATH_INVALID', reason: string): FinalLinkVerdict {
  return { verdict: 'outside', code, reason };
}
