import { LEAF_BYTES, type DeltaMatcher } from '../protocol/index.js';
import type { OldFile } from './delta-download.js';
import type { FoundLeaves } from './found-leaves.js';
import type { OldLeafTables } from './old-leaf-tables.js';
import { ReadBuffers } from './read-buffers.js';
import { storedLeafHashes } from './stored-leaf-hashes.js';
import { SCAN_WINDOW_BYTES } from './window-read-ahead.js';
import { scanWindow } from './scan-window.js';

/** What a scan again reads and scans with: the first pass's file, tables, matcher and found leaves. */
export interface ScanAgainParts {
  readonly old: OldFile;
  readonly tables: OldLeafTables;
  readonly matcher: DeltaMatcher;
  readonly taken: FoundLeaves;
  /** Resolves once every write from the scan's buffers landed (`ReadBuffers`). */
  readonly landed: () => Promise<void>;
}

/**
 * Old-file ranges a delta download's scan left unmatched while the signature was still arriving, scanned
 * again once it is whole, so the leaves found are those a scan of the whole signature finds (`takeLeaves`).
 */
export class ScanAgain {
  readonly #parts: ScanAgainParts;
  /** Old-file ranges left unmatched by a scan of part of the signature: scanned again once it is whole. */
  readonly #again: Array<{ from: number; to: number }> = [];
  /**
   * Buffers of the scans again: their own, since those may run between two windows of the first pass while
   * the next window is read into `buffers` (a take there would turn to the window being read). Allocated only
   * if there is something to scan again.
   */
  readonly #againBuffers: ReadBuffers;

  constructor(parts: ScanAgainParts) {
    this.#parts = parts;
    this.#againBuffers = new ReadBuffers(
      parts.landed,
      Math.min(parts.old.size, SCAN_WINDOW_BYTES + 2 * LEAF_BYTES),
    );
  }

  /** Old-file bytes `from` to `to` (exclusive) to scan again once the signature is whole. */
  add(from: number, to: number): void {
    this.#again.push({ from, to });
  }

  /** Scans every range added with the whole signature (the matcher knows every block), emptying the list. */
  async scan(): Promise<void> {
    const { old, tables, matcher, taken } = this.#parts;
    const again = this.#again;
    const againBuffers = this.#againBuffers;
    for (let range = again.shift(); range !== undefined; range = again.shift()) {
      for (let from = range.from; from < range.to;) {
        const to = Math.min(range.to, from + SCAN_WINDOW_BYTES);
        const readEnd = Math.min(old.size, to - 1 + LEAF_BYTES);
        const window = await againBuffers.take(readEnd - from);
        await old.readExactly(window, 0, window.length, from);
        // The store's (or in-place) hashes for this window too, only while the identity after its read (and
        // their hashing) is the one opened.
        const table = await tables.afterRead(readEnd);
        const scan = scanWindow(matcher, {
          bytes: window,
          from,
          to,
          atEnd: readEnd === old.size,
          known: table && storedLeafHashes(table, old.size, undefined),
        });
        await taken.take(window, from, true);
        from = scan.next;
      }
    }
  }

  /** Gives the buffers back, for the next scan; only once no write reads from them. */
  release(): void {
    this.#againBuffers.release();
  }
}
