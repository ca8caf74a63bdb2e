// The transfer's rules as pure state machines (docs/PROTOCOL.md §5.5-§6.2): messages in, effects out. No
// sockets, files or timers, so every rule is tested with bytes (test/machines/).
export { stepOf, type Transition } from './transition.js';
export { UPLOAD_LANE_TRANSITIONS, UploadLane, type LaneRoute, type UploadLaneState } from './upload-lane.js';
export {
  PairingClient,
  PairingServer,
  PAIRING_CLIENT_TRANSITIONS,
  PAIRING_SERVER_TRANSITIONS,
  readPairHelloInviteId,
  type PairingClientOptions,
  type PairingServerOptions,
  type PairingSessionBinding,
  type PairingStep,
} from './pairing-exchange.js';
export {
  ListingReceiver,
  ListingTally,
  LISTING_TRANSITIONS,
  type ListingState,
  type RemoteListing,
} from './listing-receiver.js';
export { EntryRequest, ENTRY_TRANSITIONS, type EntryState } from './entry-request.js';
