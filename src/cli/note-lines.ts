import { terminalLineWidth, type LineStream } from './terminal-width.js';
import { wrapText } from './wrap-parts.js';

/** What the CLI's errors and most of its notes start with: the lines they wrap onto start under the text after it. */
const LEAD = 'ferry: ';

/**
 * `text`, an error or a note of the CLI, as lines: one to a file or a pipe (`width` undefined: a script or
 * a log reads one line per error or note); on a terminal, lines of at most `width` columns broken between
 * words as a summary is (`wrapText`), so a command to paste and a key are never split, the lines after the
 * first indented (under the text after `ferry: `, or by two columns as a summary's).
 */
export function noteLines(text: string, width: number | undefined): string[] {
  if (width === undefined) return [text];
  return wrapText(text, width, ' '.repeat(text.startsWith(LEAD) ? LEAD.length : 2));
}

/** Writes `text` (one note, no newline) to `stream` (stderr) as {@link noteLines} breaks it for that stream. */
export function writeNote(text: string, stream: NodeJS.WritableStream & LineStream = process.stderr): void {
  stream.write(`${noteLines(text, terminalLineWidth(stream)).join('\n')}\n`);
}
