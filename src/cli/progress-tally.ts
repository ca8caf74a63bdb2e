import { ERROR_CODES, type ErrorCode } from '../errors/index.js';
import type { TransferEvent } from '../index.js';

/** One file or entry in the closing summary, named as on both sides. */
export interface TalliedFile {
  /** The local path (the source of an upload, the destination of a download); absent for tree entries. */
  file?: string;
  /** Absent for a local file whose name cannot be sent: it never got one. */
  remotePath?: string;
}

/** A file a stopped run leaves part of: what the same command resumes from. */
export interface KeptPartial {
  file: string;
  size: number;
  /** Verified and durable on the receiver (the server for an upload, here for a download). */
  keptBytes: number;
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

/** Error categories that end a transfer with its session or run, its verified part kept for a rerun. */
const CUT_WITH_THE_RUN: ReadonlySet<string> = new Set(['aborted', 'network', 'protocol', 'internal']);

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
  /** Files started and not finished, by their route: what a run stopped as a whole leaves behind. */
  readonly #open = new Map<string, KeptPartial>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#startedMs = now();
  }

  add(event: TransferEvent): void {
    this.#trackOpen(event);
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

  /**
   * A local file left out because the wire cannot carry its name (a control character in it): the user
   * meant to send it, so it counts as failed, as rsync counts it in its exit code 23.
   */
  addUnsendable(file: string, message: string): void {
    this.#failed.push({ file, code: 'PATH_INVALID', message });
  }

  /**
   * Files started and not finished, in the order they started, with the bytes the receiver last reported
   * verified (0 when none was reported yet: it may still hold what was in flight).
   */
  keptPartials(): KeptPartial[] {
    return [...this.#open.values()];
  }

  #trackOpen(event: TransferEvent): void {
    if (!('remotePath' in event) || !('file' in event)) return;
    const key = `${event.file}\0${event.remotePath}`;
    if (event.type === 'transfer-started')
      this.#open.set(key, { file: event.file, size: event.size, keptBytes: event.heldBytes });
    else if (event.type === 'progress') {
      const partial = this.#open.get(key);
      if (partial) partial.keptBytes = event.verifiedBytes;
    } else if (event.type === 'transfer-finished') this.#open.delete(key);
    // A file refused on its own is done with; one cut with the session (Ctrl-C, the network) resumes.
    else if (event.type === 'transfer-failed' && !CUT_WITH_THE_RUN.has(ERROR_CODES[event.code].category))
      this.#open.delete(key);
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
