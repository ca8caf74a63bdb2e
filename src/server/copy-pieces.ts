import { forgetLeafHashes } from '../protocol/index.js';
import type { PartialTransfer } from '../transfer/index.js';

/** The most bytes of the old file one read of a PUT_COPY holds (PROTOCOL.md §5.15.3). */
export const COPY_PIECE_BYTES = 1024 * 1024;

/**
 * Read buffers of the copies, used in turn (4 MiB per delta upload): writes from them land before one is
 * read into again, so this many pieces are in flight at most. A copy queues a piece's write only after the
 * next piece's buffer is taken (that piece is read meanwhile), so when buffer k is taken the writes queued
 * are those of pieces up to k − 2: a flush at every other turn (`CopyPieces.next`) covers the write of piece
 * k − 4, the one whose buffer is reused.
 */
const COPY_PIECES = 4;

/**
 * The read buffers of a delta upload's copies (`DeltaOldFile.copyInto`), made on first need and used in turn
 * (a fresh 1 MiB per piece was the server's main garbage on a shifted copy).
 */
export class CopyPieces {
  readonly #pieces: Buffer[] = [];
  #turn = 0;

  /**
   * The next buffer, COPY_PIECE_BYTES long. Before one is used again, every write queued from it into
   * `partial` has landed (`flushWrites` at every other turn, see COPY_PIECES), and no leaf hint noted in it
   * outlives its bytes (`forgetLeafHashes`).
   */
  async next<T>(partial: PartialTransfer<T>): Promise<Buffer> {
    const pieces = this.#pieces;
    if (pieces.length < COPY_PIECES) {
      // Shared memory, so the leaf hash thread reads it in place (`hashShiftedLeaves`).
      const piece = Buffer.from(new SharedArrayBuffer(COPY_PIECE_BYTES));
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
