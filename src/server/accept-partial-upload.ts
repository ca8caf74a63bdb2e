import type { PartialUpload } from './active-upload.js';
import type { SessionIo } from './session-io.js';

/**
 * Answers the offer of a partial upload this session just opened (PROTOCOL.md §5.3): its PUT_ACCEPT with
 * what the partial holds, after the event that it started. Returns a delta upload's signing, left running
 * (PROTOCOL.md §5.15.2): the session goes on to its next message, as copies and data are served while it
 * signs, placing or not (`DeltaOldFile.startSignature`, `LeafPlacing`). The signing comes back inside an
 * object: an async function returning a promise itself would flatten it, and the offer's handling would
 * await the whole signing, the session reading nothing meanwhile (no CANCEL, no PUT_COPY: stop 39).
 */
export async function acceptPartialUpload(
  io: SessionIo,
  active: PartialUpload,
): Promise<{ signing: Promise<void> | undefined }> {
  const { offer, partial, old } = active;
  // Opening a resumed partial that changed since it closed re-hashed every chunk it holds: an offer/CANCEL
  // loop must not repeat that for free (docs/SECURITY.md "Hashing on request"). Paid after the fact,
  // before the answer; one unchanged since its clean close read nothing (PROTOCOL.md §9.2).
  await io.ctx.hashCache.spend(io.clientKey, partial.rehashedBytes, io.stopped);
  io.events.transferStarted(offer.ref, {
    direction: 'upload',
    path: offer.path,
    size: offer.size,
    heldBytes: partial.verifiedBytes,
    restarted: partial.restarted,
    delta: old !== undefined,
  });
  await io.send({
    type: 'PUT_ACCEPT',
    ref: offer.ref,
    restarted: partial.restarted,
    existing: false,
    ...(old ? { delta: true as const } : {}),
    haveDigest: partial.heldDigest(),
    joinToken: active.joinToken,
    ranges: partial.heldRanges(),
  });
  // The signing's pace, which the client's reading sets, is the upload's while its data waits on it.
  const signed = (bytes: number): void => io.ctx.storage.signed(active.transferId, bytes);
  return { signing: old?.startSignature(io, offer.ref, partial, offer.size, signed).done };
}
