import type { ErrorCode } from '../errors/index.js';
import type { TransferEvent } from '../index.js';
import type { SkipKind } from '../transfer/index.js';
import type { TallySummary } from './progress-tally.js';
import { jsonForTerminal } from './escape-for-terminal.js';

/**
 * The version of the `--json` line schema (README.md, "JSON events"). Fields may be added within a
 * version; a field is never removed, renamed or given another meaning without a new version.
 */
export const JSON_EVENTS_VERSION = 1;

/** One `--json` line: a TransferEvent made plain (hex digests, no buffers), or the closing summary. */
export type JsonEvent = { v: typeof JSON_EVENTS_VERSION; type: string; time: number } & Record<
  string,
  unknown
>;

/** Converts a TransferEvent to its `--json` form. */
export function toJsonEvent(event: TransferEvent, time: number): JsonEvent {
  const head = { v: JSON_EVENTS_VERSION, type: event.type, time } as const;
  switch (event.type) {
    case 'session-opened':
      return { ...head, server: event.serverId, attempt: event.attempt };
    case 'transfer-finished': {
      const { type: _type, digest, ...rest } = event;
      return { ...head, ...rest, digest: digest.toString('hex') };
    }
    default: {
      const { type: _type, ...rest } = event;
      return { ...head, ...rest };
    }
  }
}

/** The last line of a run: what it did, and whether it succeeded. */
export function summaryJsonEvent(
  summary: TallySummary,
  outcome: { ok: true } | { ok: false; code: ErrorCode; message: string },
  time: number,
): JsonEvent {
  return {
    v: JSON_EVENTS_VERSION,
    type: 'summary',
    time,
    ...outcome,
    files: summary.files,
    identical: summary.identical,
    failed: summary.failed,
    bytes: summary.bytes,
    transferredBytes: summary.transferredBytes,
    resumedBytes: summary.resumedBytes,
    durationMs: summary.durationMs,
    storedFiles: summary.storedFiles,
    identicalFiles: summary.identicalFiles,
    failedFiles: summary.failedFiles,
  };
}

/** Writes newline-delimited JSON events, one per line, to `stream` (stdout). */
export class JsonEventWriter {
  readonly #stream: NodeJS.WritableStream;
  readonly #now: () => number;

  constructor(stream: NodeJS.WritableStream, now: () => number = Date.now) {
    this.#stream = stream;
    this.#now = now;
  }

  write(event: TransferEvent): void {
    this.#line(toJsonEvent(event, this.#now()));
  }

  summary(summary: TallySummary, outcome: Parameters<typeof summaryJsonEvent>[1]): void {
    this.#line(summaryJsonEvent(summary, outcome, this.#now()));
  }

  /**
   * A local entry left out of a tree (not a TransferEvent: it never reaches the server), with its kind
   * (`unsendable-name`...) for a program to act on, as the library's `onSkip` gets it.
   */
  skipped(path: string, reason: string, kind: SkipKind | undefined): void {
    this.#line({
      v: JSON_EVENTS_VERSION,
      type: 'entry-skipped',
      time: this.#now(),
      path,
      reason,
      ...(kind === undefined ? {} : { kind }),
    });
  }

  #line(event: JsonEvent): void {
    // Names and details are from the other side: exact for JSON.parse, no raw control bytes on a terminal.
    this.#stream.write(`${jsonForTerminal(event)}\n`);
  }
}
