import { visibleWidth } from './progress-line.js';

/**
 * `parts` (a summary's clauses: `sent 1 file`, `293 KiB in 43 ms`, `digest f7bccfc92a7c272d`) joined by
 * `, ` into lines of at most `width` columns, each part whole: a line past the terminal's width wrapped
 * where the terminal chose, through the digest (`digest f7` / `bccfc92a7c272d`), or was cut once the bars
 * had turned wrapping off. Lines after the first start with `indent`, under the first line's text. A part
 * wider than a line on its own gets a line of its own, as it is.
 */
export function wrapParts(parts: readonly string[], width: number, indent = ''): string[] {
  return wrapWords(
    parts.map((part, index) => (index === parts.length - 1 ? part : `${part},`)),
    width,
    indent,
  );
}

/**
 * `text` (an error or a note) in lines of at most `width` columns, broken at spaces only, as
 * {@link wrapParts} breaks a summary: a word is never split, a `command in backticks` is one word, so a
 * command to paste (`ferry trust HOST:PORT ID`) and a key stay on one line (one wider than a line gets a
 * line of its own, as it is, for the terminal to wrap softly: a copy of it is still one line), and so is a
 * size or a time with its unit (`1.50 GiB`, `40 ms`).
 */
export function wrapText(text: string, width: number, indent = ''): string[] {
  const words = text.replace(NUMBER_AND_UNIT, `$1${JOINED}`).match(WORD) ?? [];
  return wrapWords(
    words.map((word) => word.replaceAll(JOINED, ' ')),
    width,
    indent,
  );
}

/** Stands for a space no line breaks at while the words are found (a control character: text is escaped). */
const JOINED = '\u001f';

/** The space between a number and its unit, as formatBytes and formatDuration write them. */
const NUMBER_AND_UNIT = /(\d) (?=(?:[KMGTP]iB|B|ms|s)\b)/g;

/** Runs of anything but spaces, a backquoted span (spaces and all) counting as part of its run. */
const WORD = /(?:`[^`]*`|[^ \t\n`]+|`)+/g;

/** `words` joined by single spaces into lines of at most `width` columns; later lines start with `indent`. */
function wrapWords(words: readonly string[], width: number, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line === '') line = lines.length === 0 ? word : `${indent}${word}`;
    else if (visibleWidth(line) + 1 + visibleWidth(word) <= width) line = `${line} ${word}`;
    else {
      lines.push(line);
      line = `${indent}${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
