import type { PutOfferMessage } from '../protocol/index.js';
import {
  deltaDurableBatchBytes,
  PartialTransfer,
  type PartialStore,
  type RootPath,
} from '../transfer/index.js';
import type { SessionIo } from './session-io.js';
import { serverPartialStore } from './server-partial-store.js';
import { StorageLimits } from './storage-limits.js';

/** Where a finished upload goes: a file under the root, or an object's key (`SessionContext.objectStore`). */
export type UploadTarget = RootPath | string;

/**
 * Opens (or resumes) the partial of an upload this session has claimed, after reserving what it may grow to
 * (refused before a byte is written: the disk keeps its reserve, the client stays within its quota). A delta
 * upload (`delta`) makes its chunks durable in larger batches (`deltaDurableBatchBytes`). On failure the
 * reservation is released unless a partial of the transfer is still there.
 */
export async function openUploadPartial(
  io: SessionIo,
  offer: PutOfferMessage,
  target: UploadTarget,
  transferId: string,
  delta: boolean,
): Promise<PartialTransfer<UploadTarget>> {
  try {
    await io.ctx.storage.reserve(
      io.clientKey,
      transferId,
      StorageLimits.promiseOf(offer.size, offer.chunkBytes),
      // It lasts while the upload's data flows (StorageLimits.dataArrived).
      { awaitsData: true },
    );
    // The session's view of an object store: its end (its connection's close, a server's close) drops the
    // partial's store requests.
    const store: PartialStore<string, UploadTarget> =
      io.objectStore ?? io.ctx.partialStore ?? serverPartialStore(io.ctx.partialDir);
    const opening = PartialTransfer.open(store, transferId, {
      size: offer.size,
      mtimeMs: offer.mtimeMs,
      chunkBytes: offer.chunkBytes,
      fresh: offer.fresh,
      durableBatchBytes: delta ? deltaDurableBatchBytes(io.ctx.durableBatchBytes) : io.ctx.durableBatchBytes,
      // The file's leaf hashes, remembered once it is placed under the root (issue 16, WARM deltas).
      knownLeafHashes:
        io.ctx.knownLeafHashes && typeof target !== 'string'
          ? { store: io.ctx.knownLeafHashes, place: target.path }
          : undefined,
      onDurable: (verifiedBytes) => {
        io.events.transferProgress(offer.ref, verifiedBytes);
        void io.send({ type: 'PROGRESS', ref: offer.ref, verifiedBytes }).catch(() => undefined);
      },
    });
    // Re-hashing what the partial holds is the server's work, not a stall of the client's data.
    io.ctx.storage.busyWith(transferId, opening);
    return await opening;
  } catch (err) {
    await io.ctx.storage.releaseIfAbsent(transferId);
    throw err;
  }
}
