// The exclude patterns of `ferry sync --exclude` (and `syncTree`'s `exclude`): a subset of rsync's, decided
// here once for both directions and for both trees of a sync. Pure: no file system. Patterns are the local
// user's only; nothing the server sends is ever taken as a pattern.
import { FerryError } from '../errors/index.js';
import type { ExcludeEntry } from '../transfer/index.js';
import { compareText } from './code-unit-order.js';

/** One piece of a compiled pattern. */
type Token =
  | { kind: 'char'; char: string }
  /** `?`: one character, never `/`. */
  | { kind: 'one' }
  /** `*`: any run of characters without `/`. */
  | { kind: 'star' }
  /** `**`: any run of characters, `/` included. */
  | { kind: 'globstar' }
  /** `[...]`: one character (never `/`) in (or, negated, not in) the set. */
  | { kind: 'class'; negated: boolean; ranges: Array<readonly [string, string]> };

interface CompiledPattern {
  tokens: Token[];
  /** A leading `/`: matched against the whole path from SRC's top, not at any depth. */
  anchored: boolean;
  /** A `/` inside (or `**`): matched against whole trailing components of the path, not the name alone. */
  wholePath: boolean;
  /** A trailing `/`: directories only. */
  dirOnly: boolean;
}

/**
 * A list of exclude patterns, rsync's subset: a pattern without `/` matches an entry's name at any depth
 * (`*`, `?`, `[...]`; `*` never crosses `/`); a leading `/` anchors it at SRC's top (`/build` is the top's
 * `build` only); a `/` inside matches the trailing components of the path (`docs/*.tmp` matches
 * `a/docs/x.tmp`); `**` crosses `/`; a trailing `/` matches directories only; `\` makes the next character
 * literal. Paths are relative to the tree's top, '/'-separated, without a leading `/`.
 */
export class ExcludePatterns {
  readonly #patterns: readonly CompiledPattern[];

  /** Refuses an empty pattern (USAGE_INVALID): it would say nothing, and is most likely a slip. */
  constructor(patterns: readonly string[]) {
    this.#patterns = patterns.map(compile);
  }

  /** Whether there is any pattern at all (callers skip the work when not). */
  get empty(): boolean {
    return this.#patterns.length === 0;
  }

  /**
   * Whether `--delete` may take names that are not UTF-8 with the directory it removes or replaces (REMOVE_REQUEST's,
   * PUT_OFFER's and PUT_LINK's NOT_UTF8, PROTOCOL.md §5.16, §5.3, §5.10): only when no pattern is given. A
   * pattern is UTF-8 and never matches such a name, so with one in effect an excluded name, which `--delete`
   * keeps, cannot be told from the rest.
   */
  get removesNotUtf8(): boolean {
    return this.empty;
  }

  /**
   * Whether the entry at `path` (relative to the top, never '') of this kind is excluded by a pattern of its
   * own. An entry below an excluded directory is never asked about by a walk, which does not enter it; a
   * list of entries is filtered with {@link ExcludePatterns.filter}.
   */
  excludes(path: string, isDirectory: boolean): boolean {
    return this.#patterns.some((p) => (!p.dirOnly || isDirectory) && matches(p, path));
  }

  /** The option of `walkLocalTree` that leaves these out, not entering an excluded directory. */
  get walkOptions(): { exclude?: ExcludeEntry } {
    return this.empty ? {} : { exclude: (path, isDirectory) => this.excludes(path, isDirectory) };
  }

  /**
   * The entries of a listed tree that are not excluded, nor below an excluded directory (as a walk that does
   * not enter it would have found them). An entry's ancestors are directories whatever the listing says of
   * them, or whether it names them at all: a server's listing that left `secrets` out, or named it a file,
   * had `secrets/key` written into the user's excluded `secrets/`. An entry's directory is read once per
   * pattern, its ancestors asked about on the way (a Set lookup per ancestor hashed each prefix: quadratic
   * in the depth, ~6 ms an entry 2000 deep, minutes of CPU for one listing).
   */
  filter<T extends { path: string; kind: string }>(entries: readonly T[], excludedTops?: T[]): T[] {
    if (this.empty) return [...entries];
    // Entries of one directory come together in a listing: its ancestors are read once for all of them.
    let parent: string | undefined;
    let parentExcluded = false;
    return entries.filter((e) => {
      const at = e.path.lastIndexOf('/');
      if (at >= 0) {
        const dir = e.path.slice(0, at);
        if (dir !== parent) {
          parent = dir;
          parentExcluded = this.#patterns.some((p) => matchesAtOrAbove(p, dir));
        }
        if (parentExcluded) return false;
      }
      if (!this.excludes(e.path, e.kind === 'dir')) return true;
      excludedTops?.push(e);
      return false;
    });
  }
}

/**
 * DST's excluded entries (each the top of what a pattern leaves out, `filter`'s `excludedTops`) that SRC's own
 * entry of the same path finds in its way. Only a directory-only pattern can leave out one side's entry and
 * not the other's (`cache/`: SRC's file `cache`, DST's directory `cache`); SRC's file is sent, and rsync's
 * protection of excluded names is from removal as extraneous, not from making way: its file meets the
 * directory (rsync: "could not make way for new regular file", exit 23, or with --delete the directory goes
 * with what it holds). So these are compared again: the plan's conflict, with `delete` too (unlike rsync: an
 * excluded entry is never removed, or a hostile server would list a file of its name to have it removed).
 * `listed`: SRC's entries before the patterns, when `source` was filtered from a server's listing.
 */
export function excludedInTheWay<T extends { path: string }>(
  excludedTops: readonly T[],
  source: readonly { path: string }[],
  listed: readonly { path: string }[] = source,
): T[] {
  if (excludedTops.length === 0) return [];
  const paths = new Set(source.map((e) => e.path));
  const candidates = excludedTops.filter((e) => paths.has(e.path));
  // `listed`: SRC before the patterns. A listing that names a path a file and lists entries below it (a
  // hostile server's) makes it a directory whatever it says (`filter`), so it stays excluded and untouched.
  // Candidates are DST's own excluded directories that SRC names: few, so one scan each.
  return candidates.filter((c) => !listed.some((e) => e.path.startsWith(`${c.path}/`)));
}

/**
 * SRC's files and links (by path) whose DST entry is a directory holding an excluded entry below it
 * (`excludedTops`, DST's excluded entries themselves). `--delete` replaces such a directory with all it
 * holds, so the excluded entry would go with it: the plan's conflict instead, as rsync's making way honours
 * its filters and then fails ("cannot delete non-empty directory"). Sorted once, each SRC path looked up by
 * a binary search: a listing's many deep entries cost no prefix hashing.
 */
export function holdingExcluded(
  excludedTops: readonly { path: string }[],
  source: readonly { path: string; kind: string }[],
): Set<string> {
  const holding = new Set<string>();
  if (excludedTops.length === 0) return holding;
  const tops = excludedTops.map((e) => e.path).sort(compareText);
  for (const { path, kind } of source) {
    if (kind === 'dir') continue;
    const prefix = `${path}/`;
    let low = 0;
    let high = tops.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareText(tops[middle]!, prefix) < 0) low = middle + 1;
      else high = middle;
    }
    if (tops[low]?.startsWith(prefix) === true) holding.add(path);
  }
  return holding;
}

/**
 * The patterns of an exclude file's text (rsync's `--exclude-from`): one per line; blank lines and lines
 * starting with `#` or `;` are comments; a trailing carriage return is dropped (a file written on Windows).
 */
export function excludePatternsOfFile(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line !== '' && !line.startsWith('#') && !line.startsWith(';'));
}

function compile(pattern: string): CompiledPattern {
  if (pattern === '' || pattern === '/')
    throw new FerryError(
      'USAGE_INVALID',
      `an exclude pattern must name something, not ${JSON.stringify(pattern)}`,
    );
  let body = pattern;
  const anchored = body.startsWith('/');
  if (anchored) body = body.slice(1);
  const dirOnly = body.endsWith('/') && !body.endsWith('\\/');
  if (dirOnly) body = body.replace(/\/+$/, '');
  const tokens = tokenize(body, pattern);
  const wholePath =
    anchored || tokens.some((t) => t.kind === 'globstar' || (t.kind === 'char' && t.char === '/'));
  return { tokens, anchored, wholePath, dirOnly };
}

function tokenize(body: string, pattern: string): Token[] {
  const tokens: Token[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && i + 1 < body.length) tokens.push({ kind: 'char', char: body[++i]! });
    else if (c === '?') tokens.push({ kind: 'one' });
    else if (c === '*') {
      let run = 1;
      while (body[i + 1] === '*') {
        i++;
        run++;
      }
      tokens.push({ kind: run === 1 ? 'star' : 'globstar' });
    } else if (c === '[') {
      const parsed = parseClass(body, i);
      // A `[` with no closing `]` is a literal, as in the shell and rsync.
      if (parsed === undefined) tokens.push({ kind: 'char', char: c });
      else {
        tokens.push(parsed.token);
        i = parsed.end;
      }
    } else tokens.push({ kind: 'char', char: c });
  }
  if (tokens.length === 0)
    throw new FerryError(
      'USAGE_INVALID',
      `an exclude pattern must name something, not ${JSON.stringify(pattern)}`,
    );
  return tokens;
}

/** The class starting at `body[start] === '['`, and the index of its `]`, or undefined when unclosed. */
function parseClass(body: string, start: number): { token: Token; end: number } | undefined {
  let i = start + 1;
  const negated = body[i] === '!' || body[i] === '^';
  if (negated) i++;
  const ranges: Array<readonly [string, string]> = [];
  // A `]` first in the class is one of its characters.
  let first = true;
  for (; i < body.length; i++) {
    const c = body[i]!;
    if (c === ']' && !first) return { token: { kind: 'class', negated, ranges }, end: i };
    first = false;
    if (body[i + 1] === '-' && i + 2 < body.length && body[i + 2] !== ']') {
      ranges.push([c, body[i + 2]!]);
      i += 2;
    } else ranges.push([c, c]);
  }
  return undefined;
}

/**
 * Whether `p` matches the directory `path` or one above it (each ends at a `/` or the path's end): by a
 * name (a component), the whole path up to there (anchored), or whole trailing components of it (a `/`
 * inside). One pass along the text moves the set of positions reached in the pattern (rarely more than
 * a few), so a path costs at most tokens x length however many of its ancestors are asked about, a pattern
 * of many `*` never backtracks, and a component no position survives is skipped whole.
 */
function matchesAtOrAbove(p: CompiledPattern, path: string): boolean {
  const { tokens } = p;
  const accept = tokens.length;
  /** The set each position was last added to (dedupes a set without clearing anything). */
  const seen = new Int32Array(accept + 1).fill(-1);
  let stamp = 0;
  /** Adds position `k` to `set`, and the positions `*` and `**` reach from it without a character. */
  const add = (set: number[], from: number): void => {
    for (let k = from; seen[k] !== stamp; k++) {
      seen[k] = stamp;
      set.push(k);
      const token = tokens[k];
      if (token === undefined || (token.kind !== 'star' && token.kind !== 'globstar')) return;
    }
  };
  let states: number[] = [];
  let next: number[] = [];
  add(states, 0);
  for (let i = 0; ; i++) {
    if (states.length === 0) {
      // No position survived this component: only a later component's start can match again.
      if (p.anchored) return false;
      i = path.indexOf('/', i);
      if (i < 0) return false;
    }
    const end = i === path.length;
    if ((end || path[i] === '/') && seen[accept] === stamp) return true;
    if (end) return false;
    const c = path[i]!;
    stamp++;
    next.length = 0;
    for (const k of states) {
      const token = tokens[k];
      if (token === undefined) continue;
      if (token.kind === 'globstar' || (token.kind === 'star' && c !== '/')) add(next, k);
      else if (token.kind !== 'star' && one(token, c)) add(next, k + 1);
    }
    // A component starts after each `/`: a name pattern starts over there, a path pattern may also start
    // there (unless anchored at the top).
    if (c === '/' && !p.anchored) {
      if (!p.wholePath) {
        stamp++;
        next.length = 0;
      }
      add(next, 0);
    }
    [states, next] = [next, states];
  }
}

/**
 * Whether `p` matches `path`: the name alone (its last component), the whole path (anchored), or whole
 * trailing components (a `/` inside). Each token moves a set of reachable positions in the text, so a
 * pattern of many `*` costs tokens x length, never a backtracking blow-up.
 */
function matches(p: CompiledPattern, path: string): boolean {
  const text = p.wholePath ? path : path.slice(path.lastIndexOf('/') + 1);
  let reach = new Uint8Array(text.length + 1);
  reach[0] = 1;
  // Unanchored path patterns may start at any component.
  if (p.wholePath && !p.anchored) for (let i = 0; i < text.length; i++) if (text[i] === '/') reach[i + 1] = 1;
  for (const token of p.tokens) {
    const next = new Uint8Array(text.length + 1);
    let any = false;
    for (let i = 0; i <= text.length; i++) {
      if (reach[i] === 0) continue;
      if (token.kind === 'star' || token.kind === 'globstar') {
        next[i] = 1;
        for (let j = i; j < text.length && (token.kind === 'globstar' || text[j] !== '/'); j++) {
          // A later start extends from there itself: each position is walked once per token.
          if (j > i && reach[j] === 1) break;
          next[j + 1] = 1;
        }
        any = true;
      } else if (i < text.length && one(token, text[i]!)) {
        next[i + 1] = 1;
        any = true;
      }
    }
    if (!any) return false;
    reach = next;
  }
  return reach[text.length] === 1;
}

function one(token: Exclude<Token, { kind: 'star' | 'globstar' }>, c: string): boolean {
  switch (token.kind) {
    case 'char':
      return token.char === c;
    case 'one':
      return c !== '/';
    case 'class': {
      if (c === '/') return false;
      const inside = token.ranges.some(([from, to]) => c >= from && c <= to);
      return inside !== token.negated;
    }
  }
}
