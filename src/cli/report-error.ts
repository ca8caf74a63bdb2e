import { EXIT_CODES, toFerryError } from '../errors/index.js';
import { escapeForTerminal } from './escape-for-terminal.js';
import { errorLines } from './error-lines.js';
import { ferryCommand } from './ferry-command.js';
import { terminalLineWidth } from './terminal-width.js';

/**
 * Prints a failure on stderr (`errorLines`: one line, wrapped between words on a terminal) and returns the
 * exit code of its category. Stack traces only with `--debug`, each line of a stack escaped for the
 * terminal (its first line repeats the message). The hint's commands name ferry as this shell runs it
 * (ferryCommand: `./bin/ferry` from a fresh clone), knowing `failed`, the subcommand that failed; `--json`'s
 * `message` keeps `ferry`, a word a program matches on wherever it runs.
 */
export function reportError(err: unknown, debug: boolean, failed?: string): number {
  const error = toFerryError(err);
  const ferry = ferryCommand(process.argv[1], process.cwd(), process.env.PATH);
  const lines = errorLines(error, terminalLineWidth(process.stderr), { ferry, failed });
  process.stderr.write(`${lines.join('\n')}\n`);
  if (debug) {
    const stack = (error.cause instanceof Error ? error.cause : error).stack ?? '';
    process.stderr.write(`${stack.split('\n').map(escapeForTerminal).join('\n')}\n`);
  }
  return EXIT_CODES[error.category];
}
