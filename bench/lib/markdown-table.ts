/**
 * Renders rows (the first is the header) as an aligned Markdown table; the columns listed in
 * `rightAligned` (numbers) are padded on the left and marked `---:`.
 */
export function markdownTable(
  lines: readonly (readonly string[])[],
  rightAligned: readonly number[],
): string {
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  const cell = (text: string, i: number): string =>
    rightAligned.includes(i) ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const out = lines.map((l) => `| ${widths.map((_, i) => cell(l[i] ?? '', i)).join(' | ')} |`);
  const rule = widths.map((w, i) => (rightAligned.includes(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2)));
  out.splice(1, 0, `|${rule.join('|')}|`);
  return out.join('\n');
}
