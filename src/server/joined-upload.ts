import { FerryError } from '../errors/index.js';
import { JOIN_TOKEN_BYTES, type PutOfferMessage } from '../protocol/index.js';
import type { JoinedUpload } from './active-upload.js';
import type { SessionIo } from './session-io.js';

/** PROTOCOL.md §5.13: the steps of an extra stream writing chunks into a partial another session holds. */
export const joinedUpload = {
  /**
   * PROTOCOL.md §5.13.2: attaches to the partial another session of this client is receiving, if the offer
   * carries the token the primary's PUT_ACCEPT issued. Refused before anything is touched.
   */
  open(io: SessionIo, offer: PutOfferMessage & { join: Buffer }, transferId: string): JoinedUpload {
    const partial = io.ctx.registry.joinable(transferId, offer.join);
    const header = partial?.header;
    if (
      !partial ||
      header?.size !== offer.size ||
      header.mtimeMs !== offer.mtimeMs ||
      header.chunkBytes !== offer.chunkBytes
    ) {
      // Scoped to this ref: the stream may simply have arrived after the transfer finished. A wrong token
      // gets the same answer as no transfer, so it tells a session without the token nothing.
      throw new FerryError('PATH_NOT_FOUND', 'no matching transfer to join');
    }
    return { kind: 'joined', ref: offer.ref, transferId, partial, offer, receivedBytes: 0 };
  },

  /** The held set was already answered to the primary; a joined stream only needs to know it may send. */
  async accept(io: SessionIo, { ref }: JoinedUpload): Promise<void> {
    await io.send({
      type: 'PUT_ACCEPT',
      ref,
      restarted: false,
      existing: false,
      haveDigest: Buffer.alloc(32),
      joinToken: Buffer.alloc(JOIN_TOKEN_BYTES),
      ranges: [],
    });
  },

  /**
   * PROTOCOL.md §5.13.4, at this stream's PUT_END (`stream` names it): its chunks were processed in order,
   * so its part is verified; a chunk it left half-sent is not, and stays for another stream to send.
   */
  async end(io: SessionIo, active: JoinedUpload, fileDigest: Buffer, stream: unknown): Promise<void> {
    active.partial.endPart(stream, fileDigest);
    await io.send({
      type: 'PUT_DONE',
      ref: active.ref,
      identical: false,
      part: true,
      fileDigest: Buffer.alloc(32),
    });
  },
} as const;
