import type { FerryError } from '../errors/index.js';
import type { CancelMessage, ChunkSet, PutEndMessage } from '../protocol/index.js';
import type { UploadOutcome } from './upload-outcome.js';

/** What the driver must do next, in order. */
export type UploadEffect =
  /** Open a new ref, send PUT_OFFER on it (FRESH after a mismatch; JOIN for a joined stream), call `offered(ref)`. */
  | { readonly kind: 'offer'; readonly fresh: boolean }
  /** Send this message; a CANCEL's ref is closed first, so what the server still sends for it is dropped. */
  | { readonly kind: 'send'; readonly message: CancelMessage | PutEndMessage }
  /** The server answered the offer: tell the caller how much it holds and whether it restarted. */
  | { readonly kind: 'accepted'; readonly heldBytes: number; readonly restarted: boolean }
  /** Hash these chunks of the source into `hashes` (a check that sends no data), then call `hashed()`. */
  | { readonly kind: 'hash'; readonly chunks: ChunkSet }
  /**
   * Send the chunks `chunks` yields (`streamChunks` into `hashes`), then call `sent(bytes)`. `chunks` is the one
   * cursor joined streams share (PROTOCOL.md §5.13.3); `missing` is how many it yields in all.
   */
  | { readonly kind: 'stream'; readonly chunks: Iterator<number>; readonly missing: number }
  /** Check the source is the file opened, unchanged (PROTOCOL.md §5.6.1); call `unchanged()` or `sourceChanged()`. */
  | { readonly kind: 'check-unchanged' }
  /** Read the ref's next message and pass it to `received()`. */
  | { readonly kind: 'receive' }
  | { readonly kind: 'done'; readonly outcome: UploadOutcome }
  /** The upload failed; with `report`, the server is told with ERROR for the ref (PROTOCOL.md §5.1, §5.6.1). */
  | { readonly kind: 'fail'; readonly error: FerryError; readonly report: boolean };
