import { FerryError } from '../errors/index.js';

/**
 * One row of a machine's transition table (PROTOCOL.md §6): in `state`, `event` is allowed, the machine does
 * `action` and moves to `next`. Each machine exports its table as data and steps through it with `stepOf`,
 * so the table PROTOCOL.md shows (tested in test/machines/state-tables-doc.test.ts) is the one the code obeys.
 */
export interface Transition {
  readonly state: string;
  readonly event: string;
  readonly next: string;
  readonly action: string;
}

/**
 * The row of `table` for `event` in `state`. An event the table does not allow there is a protocol violation:
 * MESSAGE_UNEXPECTED `"<event> in state <state>"`. A plain loop: machines step once per message, on the hot path.
 */
export function stepOf<T extends Transition>(table: readonly T[], state: string, event: string): T {
  for (const row of table) if (row.state === state && row.event === event) return row;
  throw new FerryError('MESSAGE_UNEXPECTED', `${event} in state ${state}`);
}
