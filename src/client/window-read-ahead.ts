import { LEAF_BYTES, type KnownLeafHash } from '../protocol/index.js';
import { DIRECT_ALIGN_BYTES } from '../transfer/index.js';
import type { OldFile } from './delta-download.js';
import type { ReadBuffers } from './read-buffers.js';
import type { OldLeafTables, LeafTable } from './old-leaf-tables.js';
import type { ScanHashesAhead } from './scan-hashes-ahead.js';
import { storedLeafHashes } from './stored-leaf-hashes.js';

/** Old-file offsets scanned per read (the read holds one leaf more, for matches across its end). */
export const SCAN_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * The most bytes one read of the scan holds: a window, the leaf past its end, the leaf a scan may start past
 * the window before it (a match across its end), and up to DIRECT_ALIGN_BYTES before that, where the read
 * starts so that the leaves it will likely place lie aligned for direct I/O in its buffer.
 */
export const SCAN_READ_BYTES = SCAN_WINDOW_BYTES + 2 * LEAF_BYTES + DIRECT_ALIGN_BYTES;

/** A piece of the old file read ahead of its scan: file bytes from `at`. */
export interface Piece {
  readonly at: number;
  readonly bytes: Buffer;
  /** The old file's leaf hashes, when its identity after this read was still the one opened. */
  readonly known?: LeafTable | undefined;
}

/** The leaf hashes of a piece, started as soon as it was read, at the phase followed then. */
export interface EarlyHashes {
  readonly phase: number | undefined;
  readonly piece: Piece;
  readonly hashes: Promise<KnownLeafHash | undefined>;
}

/**
 * A delta download's old file read a window ahead of its scan (`takeLeaves`), each piece's leaf hashes
 * started as soon as it is read: the scan of one window overlaps the read and the hashing of the next.
 */
export class WindowReadAhead {
  readonly #old: OldFile;
  readonly #buffers: ReadBuffers;
  readonly #tables: OldLeafTables;
  readonly #hashesAhead: ScanHashesAhead;

  constructor(old: OldFile, buffers: ReadBuffers, tables: OldLeafTables, hashesAhead: ScanHashesAhead) {
    this.#old = old;
    this.#buffers = buffers;
    this.#tables = tables;
    this.#hashesAhead = hashesAhead;
  }

  /**
   * Reads the piece a window from `to` scans. Each window is read while the one before it is scanned: a read
   * covers any start the scan may leave (from `to` to a leaf past it) and a whole window after it. It starts
   * where the leaves at the phase the scans follow (the leaf boundaries, or those shifted by an insertion or a
   * deletion) lie aligned for direct I/O in its buffer (a slab's, page-aligned), so that runs of them are
   * placed around the page cache.
   */
  read(to: number): Promise<Piece> {
    const old = this.#old;
    const phase = this.#hashesAhead.phase ?? 0;
    const at = Math.max(
      0,
      to - ((((to - phase) % DIRECT_ALIGN_BYTES) + DIRECT_ALIGN_BYTES) % DIRECT_ALIGN_BYTES),
    );
    const read = (async () => {
      const bytes = await this.#buffers.take(
        Math.min(old.size, to + SCAN_WINDOW_BYTES + 2 * LEAF_BYTES) - at,
      );
      await old.readExactly(bytes, 0, bytes.length, at);
      const table = await this.#tables.afterRead(Math.min(old.size, at + bytes.length));
      return { at, bytes, known: table };
    })();
    read.catch(() => undefined); // awaited by the scan; a read left running when the scan fails is not unhandled
    return read;
  }

  /** The leaf hashes of the piece `read` reads, started as soon as it is read, at the phase followed then. */
  hashesOf(read: Promise<Piece>): Promise<EarlyHashes | undefined> {
    return read.then(
      (piece) => ({ phase: this.#hashesAhead.phase, piece, hashes: this.#startHashes(piece) }),
      () => undefined, // the read's failure is the scan's
    );
  }

  /** The hashes of a piece at the phase followed now: those taken early if at the same phase. */
  atPhase(early: Promise<EarlyHashes | undefined>): Promise<KnownLeafHash | undefined> {
    const phase = this.#hashesAhead.phase;
    return early.then((e) =>
      e === undefined ? undefined : e.phase === phase ? e.hashes : this.#startHashes(e.piece),
    );
  }

  /**
   * The leaves a window's scan will check are hashed on the leaf hash thread as soon as the window is read,
   * over its very buffer, at the phase the scans so far set (`ScanHashesAhead`): while this thread scans
   * the window before it, takes its leaves and waits for the signature (issue 16: started only once the
   * scan before it ended, the hash thread, the client's busiest, sat idle during every scan). Should that
   * scan move the phase (an edit), they are taken again at the new one (`atPhase`).
   */
  #startHashes({ at, bytes, known: stored }: Piece): Promise<KnownLeafHash | undefined> {
    const old = this.#old;
    const hashesAhead = this.#hashesAhead;
    // A scan of this piece starts less than a leaf past `at` and checks blocks starting before its end.
    const ahead =
      stored !== undefined && hashesAhead.phase === 0
        ? Promise.resolve(undefined)
        : hashesAhead.start(bytes, at, Math.min(old.size, at + SCAN_WINDOW_BYTES + LEAF_BYTES));
    if (stored === undefined) return ahead;
    // Leaves in place (phase 0) from the store; those at another phase (after an edit) hashed ahead.
    return ahead.then((other) => storedLeafHashes(stored, old.size, other));
  }
}
