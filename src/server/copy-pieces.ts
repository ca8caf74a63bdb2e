import { LEAF_BYTES, forgetLeafHashes } from '../protocol/index.js';
import type { PartialTransfer } from '../transfer/index.js';

/** The most bytes of the old file one read of a PUT_COPY holds (PROTOCOL.md §5.15.3). */
const COPY_PIECE_BYTES = 1024 * 1024;

/**
 * Read buffers of the copies, used in turn (at most 4 MiB per delta upload): writes from them land before one is
 * read into again, so this many pieces are in flight at most. A copy queues a piece's write only after the
 * next piece's buffer is taken (that piece is read meanwhile), so when buffer k is taken the writes queued
 * are those of pieces up to k − 2: a flush at every other turn (`CopyPieces.next`) covers the write of piece
 * k − 4, the one whose buffer is reused.
 */
const COPY_PIECES = 4;

/**
 * The read buffers of a delta upload's copies (`DeltaOldFile.copyInto`), made on first need and used in turn
 * (a fresh 1 MiB per piece was the server's main garbage on a shifted copy), no larger than the old file
 * (in whole leaves): a copy never reads more than it holds, and a tree's changed files of a few KiB each
 * made up to four 1 MiB buffers per file, zeroed (issue 16: ~1 ms of the server's CPU a file).
 */
export class CopyPieces {
  readonly #pieces: Buffer[] = [];
  #turn = 0;
  /** The bytes of each buffer: what one read of a copy holds. */
  readonly pieceBytes: number;

  constructor(oldSize: number) {
    this.pieceBytes = Math.min(COPY_PIECE_BYTES, Math.max(1, Math.ceil(oldSize / LEAF_BYTES)) * LEAF_BYTES);
  }

  /**
   * The next buffer, `pieceBytes` long. Before one is used again, every write queued from it into
   * `partial` has landed (`flushWrites` at every other turn, see COPY_PIECES), and no leaf hint noted in it
   * outlives its bytes (`forgetLeafHashes`).
   */
  async next<T>(partial: PartialTransfer<T>): Promise<Buffer> {
    const pieces = this.#pieces;
    if (pieces.length < COPY_PIECES) {
      // Shared memory, so the leaf hash thread reads it in place (`hashShiftedLeaves`).
      const piece = Buffer.from(new SharedArrayBuffer(this.pieceBytes));
      pieces.push(piece);
      return piece;
    }
    const turn = this.#turn++ % COPY_PIECES;
    if (turn % 2 === 0) await partial.flushWrites();
    const piece = pieces[turn]!;
    forgetLeafHashes(piece.buffer);
    return piece;
  }
}
