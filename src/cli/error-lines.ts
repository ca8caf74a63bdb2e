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
  const forThisShell =
    shell === undefined ? undefined : (hint: string) => hintForThisShell(hint, shell.ferry, shell.failed);
  return noteLines(`ferry: ${error.code}: ${escapeForTerminal(errorMessage(error, forThisShell))}`, width);
}

/**
 * What the CLI says of a failure after `ferry: CODE: `: the statement, `(from the server)` after a server's
 * words, then ferry's hint (through `hint`: errorLines names ferry as this shell runs it). The one renderer
 * of the stderr line and of `--json`'s summary `message`: the summary said a server's refusal without the
 * mark, so a program could not tell the server's words from ferry's next step.
 */
export function errorMessage(error: FerryError, hint: (text: string) => string = (text) => text): string {
  // The mark closes the server's words, and ferry's own hint comes after it: before it, the hint read as the
  // server's advice.
  const from = error.remote ? ' (from the server)' : '';
  return `${error.statement}${from}${error.hint === undefined ? '' : `; ${hint(error.hint)}`}`;
}
