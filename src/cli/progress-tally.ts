import type { ErrorCode } from '../errors/index.js';
import type { TransferEvent } from '../index.js';

/** One file or entry in the closing summary, named as on both sides. */
export interface TalliedFile {
  /** The local path (the source of an upload, the destination of a download); absent for tree entries. */
  file?: string;
  remotePath: string;
}

/** A file or entry that failed, with why. */
export interface TalliedFailure extends TalliedFile {
  code: ErrorCode;
  message: string;
}

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
  /** Files written and verified in this run, in the order they were confirmed. */
  storedFiles: TalliedFile[];
  /** Files whose destination already held the same content, left untouched. */
  identicalFiles: TalliedFile[];
  /** Files and tree entries that failed, with their codes. */
  failedFiles: TalliedFailure[];
}

/**
 * Adds up the transfer events of one command run. The clock starts when the first session is
 * authenticated, so time at a trust prompt (which runs inside the handshake) is not counted in the
 * duration or the average speed.
 */
export class TransferTally {
  readonly #now: () => number;
  #startedMs: number;
  #sessionSeen = false;
  #files = 0;
  #identical = 0;
  #bytes = 0;
  #transferred = 0;
  #resumed = 0;
  #lastDigest: string | undefined;
  readonly #stored: TalliedFile[] = [];
  readonly #identicalFiles: TalliedFile[] = [];
  readonly #failed: TalliedFailure[] = [];

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#startedMs = now();
  }

  add(event: TransferEvent): void {
    if (event.type === 'session-opened') {
      if (!this.#sessionSeen) this.#startedMs = this.#now();
      this.#sessionSeen = true;
    } else if (event.type === 'transfer-finished') {
      const named = { file: event.file, remotePath: event.remotePath };
      this.#files++;
      if (event.identical) {
        this.#identical++;
        this.#identicalFiles.push(named);
      } else {
        this.#stored.push(named);
      }
      this.#bytes += event.size;
      this.#transferred += event.transferredBytes;
      this.#resumed += event.resumedBytes;
      this.#lastDigest = event.digest.toString('hex');
    } else if (event.type === 'transfer-failed') {
      this.#failed.push({
        file: event.file,
        remotePath: event.remotePath,
        code: event.code,
        message: event.message,
      });
    } else if (event.type === 'entry-failed') {
      this.#failed.push({ remotePath: event.remotePath, code: event.code, message: event.message });
    }
  }

  /** True once any file finished or failed: a failed run then still has something to summarise. */
  get hasOutcomes(): boolean {
    return this.#files > 0 || this.#failed.length > 0;
  }

  summary(): TallySummary {
    const endMs = this.#now();
    return {
      files: this.#files,
      identical: this.#identical,
      failed: this.#failed.length,
      bytes: this.#bytes,
      transferredBytes: this.#transferred,
      resumedBytes: this.#resumed,
      durationMs: Math.max(0, endMs - this.#startedMs),
      digest: this.#files === 1 ? this.#lastDigest : undefined,
      storedFiles: [...this.#stored],
      identicalFiles: [...this.#identicalFiles],
      failedFiles: [...this.#failed],
    };
  }
}
