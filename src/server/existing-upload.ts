import { FerryError } from '../errors/index.js';
import { JOIN_TOKEN_BYTES, type PutOfferMessage } from '../protocol/index.js';
import type { ExistingUpload } from './active-upload.js';
import { existingHashes, type ExistingAt } from './existing-hashes.js';
import type { SessionIo } from './session-io.js';

/**
 * PROTOCOL.md §5.4 EXISTING: the two steps of an offer onto content the destination already holds, which is
 * compared, never written.
 */
export const existingUpload = {
  /** The existing content's chunk hashes, hashed (or known) for `offer`. */
  async open(
    io: SessionIo,
    offer: PutOfferMessage,
    at: ExistingAt,
    transferId: string,
  ): Promise<ExistingUpload> {
    const hashes = await existingHashes(io, offer, at, transferId);
    return { kind: 'existing', ref: offer.ref, hashes, offer };
  },

  /** Offers the existing content's chunk hashes so the client can tell if it is identical. */
  async accept(io: SessionIo, { offer, hashes }: ExistingUpload): Promise<void> {
    await io.send({
      type: 'PUT_ACCEPT',
      ref: offer.ref,
      restarted: false,
      existing: true,
      haveDigest: hashes.haveDigest(),
      // An existing file is compared, never written: nothing to join.
      joinToken: Buffer.alloc(JOIN_TOKEN_BYTES),
      ranges: hashes.knownRanges(),
    });
  },

  /**
   * At PUT_END: the content is identical if the client's whole-file digest is that of the existing content
   * (then the transfer is over, `counted` is called and PUT_DONE says so), else FILE_EXISTS.
   */
  async end(io: SessionIo, active: ExistingUpload, expected: Buffer, counted: () => void): Promise<void> {
    const { offer, hashes } = active;
    const digest = hashes.digest();
    if (!digest.equals(expected)) throw new FerryError('FILE_EXISTS');
    counted();
    io.events.transferStarted(offer.ref, {
      direction: 'upload',
      path: offer.path,
      size: offer.size,
      heldBytes: offer.size,
      restarted: false,
    });
    io.events.transferFinished(offer.ref, { digest, transferredBytes: 0, identical: true });
    await io.send({ type: 'PUT_DONE', ref: offer.ref, identical: true, fileDigest: digest });
  },
} as const;
