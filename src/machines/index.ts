// The transfer's rules as pure state machines (docs/PROTOCOL.md §5.5-§6.2): messages in, effects out. No
// sockets, files or timers, so every rule is tested with bytes (test/machines/).
export { stepOf, type Transition } from './transition.js';
export { UPLOAD_LANE_TRANSITIONS, UploadLane, type LaneRoute, type UploadLaneState } from './upload-lane.js';
export { ChunkStates, MAX_OPEN_CHUNKS, type ChunkState, type ChunkEntry } from './chunk-states.js';
export {
  ReceiverMachine,
  RECEIVER_TRANSITIONS,
  DURABLE_BATCH_BYTES,
  type ReceiverState,
  type ReceiverOptions,
  type ReceiverEffect,
  type WriteEffect,
  type MakeDurableEffect,
  type ProgressEffect,
  type FinishEffect,
  type FailEffect,
} from './receiver-machine.js';
export {
  BATCH_RECEIVER_TRANSITIONS,
  BatchReceiver,
  MAX_BATCHES_IN_FLIGHT,
  type BatchReceiverState,
  type ReceivedBatch,
} from './batch-receiver.js';
export { missingChunks } from './missing-chunks.js';
export { judgeHeldClaim } from './held-claim.js';
export { LeafPlacing, type LeafPlacingState, type LeafRun } from './leaf-placing.js';
export {
  UploadSenderMachine,
  UPLOAD_SENDER_TRANSITIONS,
  type UploadEffect,
  type UploadOutcome,
  type UploadSenderOptions,
  type UploadSenderState,
} from './upload-sender-machine.js';
export {
  DownloadSenderMachine,
  DOWNLOAD_SENDER_TRANSITIONS,
  type DownloadEffect,
  type DownloadSenderState,
  type SentFile,
} from './download-sender-machine.js';
// The pairing exchange (machines/pairing-exchange.ts) is imported from its own file, not through this barrel:
// it runs CPace, whose group (@noble/curves) costs ~25 ms of CPU to load, and every transfer loads this barrel
// while only pairing needs it (issue 14).
export {
  ListingReceiver,
  ListingTally,
  LISTING_TRANSITIONS,
  type ListingState,
  type RemoteListing,
} from './listing-receiver.js';
export { EntryRequest, ENTRY_TRANSITIONS, type EntryState } from './entry-request.js';
export {
  DELTA_BLOCKS_TRANSITIONS,
  DeltaBlocksReceiver,
  type DeltaBlocksState,
} from './delta-blocks-receiver.js';
export {
  DeltaSignatureReceiver,
  DELTA_SIGNATURE_TRANSITIONS,
  type DeltaSignatureState,
  type SignedFile,
} from './delta-signature-receiver.js';
export {
  GET_BATCH_RECEIVER_TRANSITIONS,
  GetBatchReceiver,
  type AnsweredEntries,
  type GetBatchReceiverState,
} from './get-batch-receiver.js';
export { FLOWING_HORIZON_MS, UploadFlow, type FlowStep } from './upload-flow.js';
