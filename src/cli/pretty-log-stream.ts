import picocolors from 'picocolors';
import { escapeForTerminal, jsonForTerminal } from './escape-for-terminal.js';
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
 * Turns one pino JSON line into one line for a person: `12:04:05 INFO  upload verified  peer=53rqsf5v6
 * size=4`. Time is local wall-clock; strings with spaces are quoted; anything unparsable passes through.
 */
export function formatLogLine(line: string, c: Colors = picocolors.createColors(false)): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return escapeForTerminal(line.trimEnd());
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
  return [c.dim(time), painted, msg, ...(fields.length > 0 ? [` ${fields.join(' ')}`] : [])].join(' ');
}

/** A field's value for a terminal: names from the other side never reach it raw (escape-for-terminal.ts). */
function show(value: unknown): string {
  if (typeof value === 'string')
    return /^[^\s"=]+$/.test(value) ? escapeForTerminal(value) : jsonForTerminal(value);
  if (typeof value === 'object' && value !== null) return jsonForTerminal(value);
  return escapeForTerminal(String(value));
}

/**
 * A pino destination for a terminal: each JSON line is formatted by {@link formatLogLine} and handed to
 * `writeLine` (without its newline): the terminal's stderr, or a client's progress display, which prints it
 * above its bars. Synchronous like `pino.destination({ sync: true })`, so nothing is lost on exit.
 */
export function prettyLogStream(
  writeLine: (line: string) => void,
  colors: Colors,
): { write: (chunk: string) => void } {
  return {
    write: (chunk: string) => {
      for (const line of chunk.split('\n')) if (line !== '') writeLine(formatLogLine(line, colors));
    },
  };
}
