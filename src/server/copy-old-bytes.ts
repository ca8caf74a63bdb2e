import { FerryError } from '../errors/index.js';
import { LEAF_BYTES, type PutCopyMessage } from '../protocol/index.js';
import type { PartialTransfer, SourceFile } from '../transfer/index.js';
import type { CopyPieces } from './copy-pieces.js';
import { hashShiftedLeaves } from './hash-shifted-leaves.js';

/** What a PUT_COPY reads from: a delta upload's old file and its owner's rules (`DeltaOldFile`). */
export interface CopySource {
  readonly old: SourceFile;
  readonly pieces: CopyPieces;
  /** The hashes of old leaves already placed where the copy lands, taken (`OldLeafPlacer.take`). */
  takePlaced(offset: number, oldOffset: number, length: number): Promise<Buffer[]>;
  /** Notes the signing's hashes of the unshifted whole leaves `piece` holds (`noteSignedLeaves`). */
  noteSigned(piece: Buffer, offset: number, oldOffset: number): Promise<void>;
  /** Called before any write of copied bytes at `[offset, offset + length)` (`OldLeafPlacer.arrive`). */
  arrive(offset: number, length: number): Promise<void>;
}

/**
 * PROTOCOL.md §5.15.3: a PUT_COPY's bytes come from the old file opened at the offer and are written into
 * the chunk exactly as PUT_DATA's (same offset rules, same hash check at PUT_CHUNK), in pieces of at most
 * 1 MiB so a copy of a whole 64 MiB chunk does not hold it all in memory. `stream` names the writer, as
 * PUT_DATA's does (PROTOCOL.md §5.13.3).
 */
export async function copyOldBytes<T>(
  from: CopySource,
  partial: PartialTransfer<T>,
  message: PutCopyMessage,
  stream: unknown,
): Promise<void> {
  const old = from.old;
  if (message.oldOffset + message.length > old.size)
    throw new FerryError('MESSAGE_MALFORMED', 'put_copy past the old file');
  // Each piece is read while the one before it is hashed and queued for writing (issue 16: a shifted
  // copy read, hashed and wrote one piece after another, the read's wait on the pool idling this thread).
  let last: { at: number; piece: Buffer; read: Promise<void> } | undefined;
  // Old leaves landing off the new file's leaf boundaries (an insertion or deletion before them).
  const shifted = (message.offset - message.oldOffset) % LEAF_BYTES !== 0;
  const land = async ({ at, piece, read }: { at: number; piece: Buffer; read: Promise<void> }) => {
    await read;
    if (shifted) await hashShiftedLeaves(piece, message.offset + at);
    else await from.noteSigned(piece, message.offset + at, message.oldOffset + at);
    await from.arrive(message.offset + at, piece.length);
    await partial.writeData(message.offset + at, piece, stream);
  };
  for (let done = 0; done < message.length;) {
    const placed = await from.takePlaced(
      message.offset + done,
      message.oldOffset + done,
      message.length - done,
    );
    if (placed.length > 0) {
      if (last) await land(last);
      last = undefined;
      partial.acceptPlacedLeaves(message.offset + done, placed, stream);
      done += placed.length * LEAF_BYTES;
      continue;
    }
    const n = Math.min(from.pieces.pieceBytes, message.length - done);
    const piece = (await from.pieces.next(partial)).subarray(0, n);
    const read = old.readExactly(piece, 0, n, message.oldOffset + done);
    read.catch(() => undefined); // awaited by `land`; a failure before then must not go unhandled
    if (last) await land(last);
    last = { at: done, piece, read };
    done += n;
  }
  if (last) await land(last);
}
