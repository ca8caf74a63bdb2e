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
 * `head`, then `path`, then `tail`, in at most `columns`: the path is shortened first, to no less than
 * half the line, then the end of `tail`; `keep` (a digest, say) always stays whole at the very end.
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
  const pathRoom = Math.min(Math.floor(columns / 2), Array.from(parts.path).length);
  if (room < pathRoom) {
    tail = cutEnd(tail, Math.max(0, columns - fixed - pathRoom));
    room = columns - fixed - visibleWidth(tail);
  }
  return `${head}${shortenPath(parts.path, Math.max(1, room))}${tail}${keep}`;
}

/**
 * `a -> b` in at most `columns`. The source is shortened from the left first; when fewer than
 * MIN_SOURCE_COLUMNS of it would be left, only the destination is shown (it ends in the same file name,
 * and two ellipses would hide which file it is), shortened from the left if need be.
 */
export function fitRoute(from: string, to: string, columns: number): string {
  const a = Array.from(from).length;
  const b = Array.from(to).length;
  if (a + b + 4 <= columns) return `${from} -> ${to}`;
  const forA = columns - 4 - b;
  if (forA >= MIN_SOURCE_COLUMNS) return `${shortenPath(from, forA)} -> ${to}`;
  return shortenPath(to, Math.max(1, columns));
}

/** Fewer columns than this of a shortened source say nothing useful. */
const MIN_SOURCE_COLUMNS = 16;
