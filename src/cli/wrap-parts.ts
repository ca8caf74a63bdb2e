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
 * command to paste and a key stay on one line, and so is a size or a time with its unit (`1.50 GiB`,
 * `40 ms`). A command wider than a line (`ferry trust HOST:PORT ID` with its 61-character id is 88 columns
 * before any indent) starts a line of its own and goes on over the next ones, broken between its words with
 * a shell's line continuation (` \`), the lines it goes on with indented two more columns: left whole, the
 * terminal wrapped it where its line ended, inside the id. Pasted, the lines are still one command.
 */
export function wrapText(text: string, width: number, indent = ''): string[] {
  const words = Array.from(text.replace(NUMBER_AND_UNIT, `$1${JOINED}`).matchAll(WORD), (found) => found[1]!);
  return wrapWords(
    words.map((word) => word.replaceAll(JOINED, ' ')),
    width,
    indent,
    true,
  );
}

/** Stands for a space no line breaks at while the words are found (a control character: text is escaped). */
const JOINED = '\u001f';

/** The space between a number and its unit, as formatBytes and formatDuration write them. */
const NUMBER_AND_UNIT = /(\d) (?=(?:[KMGTP]iB|B|ms|s)\b)/g;

/**
 * Words: runs of anything but spaces, a backquoted span (spaces and all) counting as part of its run. A line
 * breaks at one space only: the rest of a run of spaces stays at the start of the word after it (as do
 * spaces at the end), so the lines joined again at their breaks are the text exactly. Joining words with
 * single spaces printed `a  b.txt` from the other side as `a b.txt` (stop 41 security pass).
 */
const WORD = /(?:^| )( *(?:`[^`]*`|[^ `]+|`)+| *$)/g;

/**
 * `words` joined by single spaces into lines of at most `width` columns; later lines start with `indent`.
 * With `continueCommands`, a backquoted command wider than a line of its own goes on over several
 * ({@link commandLines}).
 */
function wrapWords(
  words: readonly string[],
  width: number,
  indent: string,
  continueCommands = false,
): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const lead = line === '' && lines.length === 0 ? '' : indent;
    const pieces = continueCommands ? commandLines(word, width - visibleWidth(lead)) : undefined;
    if (pieces !== undefined) {
      if (line !== '') lines.push(line);
      const last = pieces.length - 1;
      pieces.forEach((piece, index) => {
        if (index < last) lines.push(`${index === 0 ? lead : indent}${piece}`);
      });
      line = `${last === 0 ? lead : indent}${pieces[last]!}`;
      continue;
    }
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

/** A word made of one backquoted span with a space in it (a command), and what is stuck to either side. */
const COMMAND = /^([^`]*)`([^`]* [^`]*)`([^`]*)$/;

/**
 * `word` over several lines of at most `width` columns when it is a backquoted command wider than that
 * (undefined otherwise): broken between the command's own words, every line but the last ending in ` \`,
 * the lines after the first indented by two more columns (relative: the caller adds its indent to all but
 * the first). One of its words wider than a line on its own still gets a line, whole.
 */
function commandLines(word: string, width: number): string[] | undefined {
  if (visibleWidth(word) <= width) return undefined;
  const match = COMMAND.exec(word);
  if (match === null) return undefined;
  const [, before, command, after] = match as unknown as [string, string, string, string];
  const parts = command.split(' ').filter((part) => part !== '');
  parts[0] = `${before}\`${parts[0]!}`;
  parts[parts.length - 1] = `${parts.at(-1)!}\`${after}`;
  const lines: string[] = [];
  let line = '';
  for (const part of parts) {
    const next = line === '' ? `${lines.length === 0 ? '' : CONTINUED}${part}` : `${line} ${part}`;
    // Room for the ` \` that ends every line but the last.
    if (line !== '' && visibleWidth(next) + CONTINUATION.length > width) {
      lines.push(`${line}${CONTINUATION}`);
      line = `${CONTINUED}${part}`;
    } else line = next;
  }
  lines.push(line);
  return lines;
}

/** What ends a command's line that the next line continues: a shell joins the two. */
const CONTINUATION = ' \\';

/** The indent, past the text's own, of a command's continued lines. */
const CONTINUED = '  ';
