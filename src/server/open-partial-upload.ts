import type { PutOfferMessage } from '../protocol/index.js';
import type { PartialUpload } from './active-upload.js';
import type { DeltaOldFile } from './delta-old-file.js';
import type { SessionIo } from './session-io.js';
import { openUploadPartial, type UploadTarget } from './upload-partial.js';

/** What a partial upload is opened for: the offer, its claimed transfer, and a delta's old file if any. */
export interface PartialUploadOffer {
  readonly offer: PutOfferMessage;
  readonly target: UploadTarget;
  readonly transferId: string;
  readonly old?: DeltaOldFile | undefined;
}

/**
 * Opens (or resumes) the partial of a transfer this session has claimed (`openUploadPartial`) as the upload
 * it receives, with a fresh join token, and `takenOver`, which resolves once its `takeOver` is called
 * (§6.2). The old file is closed if the partial cannot be opened.
 */
export async function openPartialUpload(
  io: SessionIo,
  { offer, target, transferId, old }: PartialUploadOffer,
): Promise<{ readonly active: PartialUpload; readonly takenOver: Promise<void> }> {
  let partial;
  try {
    partial = await openUploadPartial(io, offer, target, transferId, old !== undefined);
  } catch (err) {
    await old?.close();
    throw err;
  }
  let takeOver = (): void => undefined;
  const joinToken = io.ctx.registry.newJoinToken();
  const takenOver = new Promise<void>((resolve) => (takeOver = resolve));
  const active: PartialUpload = {
    kind: 'partial',
    ref: offer.ref,
    transferId,
    partial,
    target,
    offer,
    receivedBytes: 0,
    takeOver,
    joinToken,
    old,
  };
  return { active, takenOver };
}
