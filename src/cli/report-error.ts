import { EXIT_CODES, toFerryError } from '../errors/index.js';
import { escapeForTerminal } from './escape-for-terminal.js';

/**
 * Prints a failure as one line on stderr (`ferry: CODE: message`, `(from the server)` after a server's
 * refusal, then ferry's hint) and returns the exit code of its category. Stack traces only with `--debug`. The message may carry a server's detail, so it is escaped
 * for the terminal, and so is each line of a stack (its first line repeats the message).
 */
export function reportError(err: unknown, debug: boolean): number {
  const error = toFerryError(err);
  // The mark closes the server's words, and ferry's own hint comes after it: before it, the hint read as the
  // server's advice.
  const from = error.remote ? ' (from the server)' : '';
  const hint = error.hint === undefined ? '' : `; ${escapeForTerminal(error.hint)}`;
  process.stderr.write(`ferry: ${error.code}: ${escapeForTerminal(error.statement)}${from}${hint}\n`);
  if (debug) {
    const stack = (error.cause instanceof Error ? error.cause : error).stack ?? '';
    process.stderr.write(`${stack.split('\n').map(escapeForTerminal).join('\n')}\n`);
  }
  return EXIT_CODES[error.category];
}
