import type { SessionIo } from './session-io.js';
import { SourceFile } from '../transfer/index.js';
import type { PartialUpload } from './active-upload.js';
import { removeKeysBelow } from './remove-keys-below.js';

/**
 * The finish of a partial upload after its PUT_END (PROTOCOL.md §5.6): verified against the client's
 * whole-file digest `expected`, made durable and placed, then PUT_DONE. `counted` is called once the file is
 * placed, before its event. On failure the partial is closed (kept for a resume, or discarded by a failed
 * digest) and what it reserved goes if it is gone; the error is the caller's to answer. The delta's old
 * file is closed either way; the claim is the caller's to let go.
 */
export async function finishUpload(
  io: SessionIo,
  active: PartialUpload,
  expected: Buffer,
  counted: () => void,
): Promise<void> {
  try {
    const digest = await active.partial.finish(expected, active.target, {
      mode: active.offer.mode,
      overwrite: active.offer.overwrite,
      rememberLater: true,
    });
    io.ctx.storage.placed(active.transferId);
    if (typeof active.target === 'string' && active.offer.replaceDir) await removeKeysBelow(io, active.offer);
    await recordPlaced(io, active);
    counted();
    io.events.transferFinished(active.ref, {
      digest,
      transferredBytes: active.receivedBytes,
      identical: false,
    });
    const answered = io.send({ type: 'PUT_DONE', ref: active.ref, identical: false, fileDigest: digest });
    // A cache for the next delta against the file, recorded once PUT_DONE is sealed and handed to the
    // socket (before any wait for it to drain): the answer does not wait for the record's encoding.
    active.partial.rememberPlaced();
    await answered;
  } catch (err) {
    await active.partial.close().catch(() => undefined);
    // A failed finish may have discarded the partial (DIGEST_MISMATCH): then its promise ends too.
    await io.ctx.storage.releaseIfAbsent(active.transferId);
    throw err;
  } finally {
    await active.old?.close();
  }
}

/** Remembers the file this transfer placed (see TransferRegistry.recordPlaced), before the claim ends. */
async function recordPlaced(io: SessionIo, active: PartialUpload): Promise<void> {
  // An object carries its transfer id instead (TRANSFER_METADATA, read by existingHashes).
  if (typeof active.target === 'string') return;
  try {
    const placed = await SourceFile.open(active.target.path, { noFollow: true, rooted: true });
    await placed.close();
    io.ctx.registry.recordPlaced(active.transferId, placed.identity);
  } catch {
    // Replaced or removed already: then there is nothing of ours to recognise later.
  }
}
