import { visibleWidth } from './progress-line.js';

/**
 * `parts` (a summary's clauses: `sent 1 file`, `293 KiB in 43 ms`, `digest f7bccfc92a7c272d`) joined by
 * `, ` into lines of at most `width` columns, each part whole: a line past the terminal's width wrapped
 * where the terminal chose, through the digest (`digest f7` / `bccfc92a7c272d`), or was cut once the bars
 * had turned wrapping off. Lines after the first start with `indent`, under the first line's text. A part
 * wider than a line on its own gets a line of its own, as it is.
 */
export function wrapParts(parts: readonly string[], width: number, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [index, part] of parts.entries()) {
    const last = index === parts.length - 1;
    const piece = last ? part : `${part},`;
    if (line === '') line = lines.length === 0 ? piece : `${indent}${piece}`;
    else if (visibleWidth(line) + 1 + visibleWidth(piece) <= width) line = `${line} ${piece}`;
    else {
      lines.push(line);
      line = `${indent}${piece}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
