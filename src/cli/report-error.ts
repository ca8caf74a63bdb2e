import { EXIT_CODES, toFerryError } from '../errors/index.js';

/**
 * Prints a failure as one line on stderr (`ferry: CODE: message`) and returns the exit code of its
 * category. Stack traces only with `--debug`.
 */
export function reportError(err: unknown, debug: boolean): number {
  const error = toFerryError(err);
  const from = error.remote ? ' (from the server)' : '';
  process.stderr.write(`ferry: ${error.code}: ${error.message}${from}\n`);
  if (debug) process.stderr.write(`${(error.cause instanceof Error ? error.cause : error).stack ?? ''}\n`);
  return EXIT_CODES[error.category];
}
