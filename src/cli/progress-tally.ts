import type { TransferEvent } from '../client/index.js';

/** What a whole `send` or `get` did, for the closing summary (human and `--json`). */
export interface TallySummary {
  /** Files verified and in place (identical ones included). */
  files: number;
  /** Of those, files that were already identical and left untouched. */
  identical: number;
  failed: number;
  /** Size of every verified file. */
  bytes: number;
  /** File bytes that crossed the wire. */
  transferredBytes: number;
  /** Bytes kept from interrupted attempts. */
  resumedBytes: number;
  durationMs: number;
  /** The digest of the only file, when exactly one was verified. */
  digest: string | undefined;
}

/** Adds up the transfer events of one command run. */
export class TransferTally {
  readonly #startedMs: number;
  readonly #now: () => number;
  #files = 0;
  #identical = 0;
  #failed = 0;
  #bytes = 0;
  #transferred = 0;
  #resumed = 0;
  #lastDigest: string | undefined;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#startedMs = now();
  }

  add(event: TransferEvent): void {
    if (event.type === 'transfer-finished') {
      this.#files++;
      if (event.identical) this.#identical++;
      this.#bytes += event.size;
      this.#transferred += event.transferredBytes;
      this.#resumed += event.identical ? 0 : event.resumedBytes;
      this.#lastDigest = event.digest.toString('hex');
    } else if (event.type === 'transfer-failed') {
      this.#failed++;
    }
  }

  summary(): TallySummary {
    return {
      files: this.#files,
      identical: this.#identical,
      failed: this.#failed,
      bytes: this.#bytes,
      transferredBytes: this.#transferred,
      resumedBytes: this.#resumed,
      durationMs: Math.max(0, this.#now() - this.#startedMs),
      digest: this.#files === 1 ? this.#lastDigest : undefined,
    };
  }
}
