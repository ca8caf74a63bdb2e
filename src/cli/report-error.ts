import { EXIT_CODES, toFerryError } from '../errors/index.js';
import { escapeForTerminal } from './escape-for-terminal.js';
import { errorLines } from './error-lines.js';
import { terminalLineWidth } from './terminal-width.js';

/**
 * Prints a failure on stderr (`errorLines`: one line, wrapped between words on a terminal) and returns the
 * exit code of its category. Stack traces only with `--debug`, each line of a stack escaped for the
 * terminal (its first line repeats the message).
 */
export function reportError(err: unknown, debug: boolean): number {
  const error = toFerryError(err);
  process.stderr.write(`${errorLines(error, terminalLineWidth(process.stderr)).join('\n')}\n`);
  if (debug) {
    const stack = (error.cause instanceof Error ? error.cause : error).stack ?? '';
    process.stderr.write(`${stack.split('\n').map(escapeForTerminal).join('\n')}\n`);
  }
  return EXIT_CODES[error.category];
}
