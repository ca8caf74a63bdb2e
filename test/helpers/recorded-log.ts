// A server's log lines kept as records a test can count and wait on: a test waits for "session closed"
// instead of sleeping.
import { pino, type Logger } from 'pino';

/** A pino logger (level info) whose every line is parsed and kept, in order. */
export class RecordedLog {
  readonly entries: Array<Record<string, unknown>> = [];
  readonly logger: Logger = pino(
    { level: 'info' },
    { write: (line: string) => this.#add(JSON.parse(line) as Record<string, unknown>) },
  );
  #waiters: Array<() => void> = [];

  /** How many lines so far carry `event`. */
  count(event: string): number {
    return this.entries.filter((e) => e['event'] === event).length;
  }

  /** Resolves once `count` lines carry `event`. */
  async waitFor(event: string, count: number): Promise<void> {
    while (this.count(event) < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #add(entry: Record<string, unknown>): void {
    this.entries.push(entry);
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
