import { jsonForTerminal } from './escape-for-terminal.js';
import { JSON_EVENTS_VERSION } from './json-events.js';

/**
 * One line of a `--json` output that is not a transfer's event (`ls`, `clients`, `invites`, `invite`): the
 * one rule of README "JSON events", every `--json` prints JSON lines each led by `v`, so a script reads
 * every command's output the same way (before, `clients` and `invites` printed one array, `invite` an object
 * without `v`). Escaped for the terminal as the events are: names may come from a server or a pairing.
 */
export function jsonLine(fields: object): string {
  return `${jsonForTerminal({ v: JSON_EVENTS_VERSION, ...fields })}\n`;
}
