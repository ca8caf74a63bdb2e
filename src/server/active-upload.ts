import type { ChunkHashes, PutOfferMessage } from '../protocol/index.js';
import type { PartialTransfer } from '../transfer/index.js';
import type { DeltaOldFile } from './delta-old-file.js';
import type { UploadTarget } from './upload-partial.js';

/** An upload writing into a partial this session opened and claims (PROTOCOL.md §5.3). */
export interface PartialUpload {
  readonly kind: 'partial';
  readonly ref: number;
  readonly transferId: string;
  readonly partial: PartialTransfer<UploadTarget>;
  readonly target: UploadTarget;
  readonly offer: PutOfferMessage;
  receivedBytes: number;
  /** Settles `UploadOutcome.takenOver` when another session takes this transfer over (§6.2). */
  readonly takeOver: () => void;
  /** What a joined stream must present (PROTOCOL.md §5.13.2), sent in this offer's PUT_ACCEPT. */
  readonly joinToken: Buffer;
  /** A delta upload's old file (PROTOCOL.md §5.15), open since the offer: PUT_COPY reads from it. */
  readonly old?: DeltaOldFile | undefined;
}

/** PROTOCOL.md §5.4 EXISTING: the destination may already hold this content; only the digest decides. */
export interface ExistingUpload {
  readonly kind: 'existing';
  readonly ref: number;
  readonly hashes: ChunkHashes;
  readonly offer: PutOfferMessage;
}

/** PROTOCOL.md §5.13: an extra stream writing chunks into a partial another session holds. */
export interface JoinedUpload {
  readonly kind: 'joined';
  readonly ref: number;
  /** The primary's transfer, whose promise of disk this stream's data keeps (`StorageLimits.dataArrived`). */
  readonly transferId: string;
  readonly partial: PartialTransfer<UploadTarget>;
  readonly offer: PutOfferMessage;
  receivedBytes: number;
}

/** The transfer a server session's `UploadReceiver` is receiving data for now. */
export type ActiveUpload = PartialUpload | ExistingUpload | JoinedUpload;
