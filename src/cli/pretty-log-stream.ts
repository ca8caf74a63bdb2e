import picocolors from 'picocolors';
import { escapeForTerminal, jsonForTerminal } from './escape-for-terminal.js';
import { visibleWidth } from './progress-line.js';
import type { Colors } from './terminal-colors.js';

/** pino's numeric levels, by name, as people read them. */
const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Fields every line has, shown in the line's head rather than as `key=value`. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'role']);

/**
 * Turns one pino JSON line into lines for a person: `12:04:05 INFO  upload verified  peer=53rqsf5v6
 * size=4`. Time is local wall-clock; strings with spaces are quoted; anything unparsable passes through.
 * With `width` (a terminal's, terminal-width.ts), the fields that do not fit go on lines of their own, each
 * `key=value` whole and indented under the message, as errors wrap (note-lines.ts): left to the terminal,
 * `npm start`'s first line (133 columns with the server's 61-character id) broke inside the id, before the
 * banner. Without it, one line per record.
 */
export function formatLogLines(
  line: string,
  c: Colors = picocolors.createColors(false),
  width?: number,
): string[] {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return [escapeForTerminal(line.trimEnd())];
  }
  const level = typeof record['level'] === 'number' ? record['level'] : 30;
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const painted =
    level >= 50 ? c.red(name) : level >= 40 ? c.yellow(name) : level >= 30 ? c.green(name) : c.dim(name);
  const time = typeof record['time'] === 'number' ? new Date(record['time']).toTimeString().slice(0, 8) : '';
  const fields = Object.entries(record)
    .filter(([key]) => !HEAD_FIELDS.has(key))
    .map(([key, value]) => `${c.dim(`${key}=`)}${show(value)}`);
  const msg = typeof record['msg'] === 'string' ? escapeForTerminal(record['msg']) : '';
  const head = [c.dim(time), painted, msg].join(' ');
  if (fields.length === 0) return [head];
  if (width === undefined) return [`${head}  ${fields.join(' ')}`];
  // Under the message: the time and level columns stay clear, so a record's lines read as one.
  const indent = ' '.repeat(visibleWidth(`${time} ${name} `));
  const lines: string[] = [];
  let current = head;
  let separator = '  ';
  for (const field of fields) {
    // A field wider than a line of its own still gets one, whole (the terminal wraps it, as before).
    if (visibleWidth(current) + separator.length + visibleWidth(field) <= width)
      current += `${separator}${field}`;
    else {
      lines.push(current);
      current = `${indent}${field}`;
    }
    separator = ' ';
  }
  lines.push(current);
  return lines;
}

/** A field's value for a terminal: names from the other side never reach it raw (escape-for-terminal.ts). */
function show(value: unknown): string {
  if (typeof value === 'string')
    return /^[^\s"=]+$/.test(value) ? escapeForTerminal(value) : jsonForTerminal(value);
  if (typeof value === 'object' && value !== null) return jsonForTerminal(value);
  return escapeForTerminal(String(value));
}

/**
 * A pino destination for a terminal: each JSON line is formatted by {@link formatLogLines}, to the width
 * `width()` says at that moment (a terminal may be resized), and each resulting line handed to `writeLine`
 * (without its newline): the terminal's stderr, or a client's progress display, which prints it above its
 * bars. Synchronous like `pino.destination({ sync: true })`, so nothing is lost on exit.
 */
export function prettyLogStream(
  writeLine: (line: string) => void,
  colors: Colors,
  width: () => number | undefined = () => undefined,
): { write: (chunk: string) => void } {
  return {
    write: (chunk: string) => {
      for (const line of chunk.split('\n'))
        if (line !== '') for (const text of formatLogLines(line, colors, width())) writeLine(text);
    },
  };
}
