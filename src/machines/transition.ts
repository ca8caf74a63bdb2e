import { FerryError } from '../errors/index.js';

/**
 * One row of a machine's state table (PROTOCOL.md §6): in `state`, `event` does `action` and leads to
 * `next`. Each machine exports its table as data and steps through it, so the table cannot lie.
 */
export interface Transition {
  readonly state: string;
  readonly event: string;
  readonly next: string;
  readonly action: string;
}

/** The row of `table` for `event` in `state`; MESSAGE_UNEXPECTED when there is none (PROTOCOL.md §5). */
export function stepOf<T extends Transition>(table: readonly T[], state: string, event: string): T {
  const row = table.find((candidate) => candidate.state === state && candidate.event === event);
  if (!row) throw new FerryError('MESSAGE_UNEXPECTED', `${event} in state ${state}`);
  return row;
}
