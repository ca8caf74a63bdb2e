import type { FerryError } from '../errors/index.js';
import { escapeForTerminal } from './escape-for-terminal.js';
import { hintForThisShell } from './hint-commands.js';
import { noteLines } from './note-lines.js';

/**
 * A failure as the CLI says it: `ferry: CODE: message`, `(from the server)` after a server's refusal, then
 * ferry's hint; one line to a file or a pipe (`width` undefined), wrapped between words on a terminal
 * (`noteLines`): the error of an unknown server's key, its 61-character id three times, ran to 463 columns
 * on one line, and the terminal broke it mid-id. The message may carry a server's detail, so it is escaped
 * for the terminal. `shell`: how this shell runs ferry and the subcommand that failed, for the hint's
 * commands to be pasted as they stand (hintForThisShell); left out, they say `ferry`.
 */
export function errorLines(
  error: FerryError,
  width: number | undefined,
  shell?: { ferry: string; failed: string | undefined },
): string[] {
  // The mark closes the server's words, and ferry's own hint comes after it: before it, the hint read as the
  // server's advice.
  const from = error.remote ? ' (from the server)' : '';
  const hint =
    error.hint === undefined
      ? ''
      : `; ${escapeForTerminal(shell === undefined ? error.hint : hintForThisShell(error.hint, shell.ferry, shell.failed))}`;
  return noteLines(`ferry: ${error.code}: ${escapeForTerminal(error.statement)}${from}${hint}`, width);
}
