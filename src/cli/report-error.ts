import { EXIT_CODES, toFerryError } from '../errors/index.js';
import { escapeForTerminal } from './escape-for-terminal.js';

/**
 * Prints a failure as one line on stderr (`ferry: CODE: message`) and returns the exit code of its
 * category. Stack traces only with `--debug`. The message may carry a server's detail, so it is escaped
 * for the terminal, and so is each line of a stack (its first line repeats the message).
 */
export function reportError(err: unknown, debug: boolean): number {
  const error = toFerryError(err);
  const from = error.remote ? ' (from the server)' : '';
  process.stderr.write(`ferry: ${error.code}: ${escapeForTerminal(error.message)}${from}\n`);
  if (debug) {
    const stack = (error.cause instanceof Error ? error.cause : error).stack ?? '';
    process.stderr.write(`${stack.split('\n').map(escapeForTerminal).join('\n')}\n`);
  }
  return EXIT_CODES[error.category];
}
