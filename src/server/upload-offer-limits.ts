import { FerryError } from '../errors/index.js';
import {
  MAX_TRANSFER_CHUNKS,
  PERMISSION_UPLOAD,
  chunkCount,
  type PutOfferMessage,
} from '../protocol/index.js';
import type { SessionIo } from './session-io.js';

/**
 * Throws the coded error of an offer this session may not make, before anything is touched: no upload
 * permission, more chunks than a transfer may have, or a file over the server's limit.
 */
export function checkUploadOffer(io: SessionIo, offer: PutOfferMessage): void {
  io.require(PERMISSION_UPLOAD, 'upload');
  // PROTOCOL.md §10: a hash per chunk is kept, so the chunk count is bounded.
  if (chunkCount(offer.size, offer.chunkBytes) > MAX_TRANSFER_CHUNKS) {
    throw new FerryError('FILE_TOO_LARGE', `more than ${MAX_TRANSFER_CHUNKS} chunks; use larger chunks`);
  }
  if (io.ctx.maxFileBytes > 0 && offer.size > io.ctx.maxFileBytes) {
    throw new FerryError('FILE_TOO_LARGE', `${offer.size} bytes, limit ${io.ctx.maxFileBytes}`);
  }
}
