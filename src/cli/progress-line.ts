/**
 * Fitting text into a terminal's columns. A bar display moves the cursor up one row per line it drew; a
 * line that wraps takes two rows and every redraw after it lands one row off, so each line must fit.
 */

// eslint-disable-next-line no-control-regex -- escape codes are what is being measured away
const SGR = /\x1b\[[0-9;]*m/g;

/** Columns `text` takes on a terminal: code points, without colour codes. */
export function visibleWidth(text: string): number {
  let width = 0;
  for (const _ of text.replace(SGR, '')) width++;
  return width;
}

/**
 * Pads `text` to `columns`, or shortens it from the left with an ellipsis: the end of a path (the file
 * name) says the most.
 */
export function fitPath(text: string, columns: number): string {
  const chars = Array.from(text);
  if (chars.length <= columns) return text + ' '.repeat(columns - chars.length);
  if (columns <= 0) return '';
  return `…${chars.slice(chars.length - columns + 1).join('')}`;
}

/** Shortens `text` (no padding) to at most `columns`, from the left. */
export function shortenPath(text: string, columns: number): string {
  return Array.from(text).length <= columns ? text : fitPath(text, columns);
}

/** Cuts plain `text` at its end to at most `columns`, marking the cut. */
function cutEnd(text: string, columns: number): string {
  const chars = Array.from(text);
  if (chars.length <= columns) return text;
  return columns <= 0 ? '' : `${chars.slice(0, columns - 1).join('')}…`;
}

/**
 * `head`, then `path`, then `tail`, in at most `columns`: the path is shortened first (never below
 * MIN_PATH_COLUMNS), then the end of `tail`; `keep` (a digest, say) always stays whole at the very end.
 */
export function fitAround(
  parts: { head: string; path: string; tail?: string; keep?: string },
  columns: number,
): string {
  const head = parts.head;
  let tail = parts.tail ?? '';
  const keep = parts.keep ?? '';
  const fixed = visibleWidth(head) + visibleWidth(keep);
  let room = columns - fixed - visibleWidth(tail);
  if (room < Math.min(MIN_PATH_COLUMNS, Array.from(parts.path).length)) {
    const pathRoom = Math.min(MIN_PATH_COLUMNS, Array.from(parts.path).length);
    tail = cutEnd(tail, Math.max(0, columns - fixed - pathRoom));
    room = columns - fixed - visibleWidth(tail);
  }
  return `${head}${shortenPath(parts.path, Math.max(1, room))}${tail}${keep}`;
}

/** A path is never squeezed below this many columns while other text can give way. */
const MIN_PATH_COLUMNS = 12;

/**
 * `a -> b` in at most `columns`: each side shortened from the left, the longer one first, so both file
 * names stay visible as long as possible.
 */
export function fitRoute(from: string, to: string, columns: number): string {
  const a = Array.from(from).length;
  const b = Array.from(to).length;
  const room = columns - 4;
  if (a + b <= room) return `${from} -> ${to}`;
  if (room < 8) return shortenPath(to, Math.max(1, columns));
  const half = Math.floor(room / 2);
  const forA = Math.min(a, Math.max(half, room - b));
  return `${shortenPath(from, forA)} -> ${shortenPath(to, room - forA)}`;
}
