export { FramedSocket } from './framed-socket.js';
export { REUSED_READ_BYTES, ReusedReads } from './reused-reads.js';
export { SecureChannel } from './secure-channel.js';
export type { ReceiveMemory } from './receive-budget.js';
export {
  clientHandshake,
  serverHandshake,
  HANDSHAKE_TIMEOUT_MS,
  type ClientHandshakeOptions,
  type ServerHandshakeOptions,
  type RekeyClock,
} from './handshake.js';
// Wire constants defined in protocol/ (PROTOCOL.md §3.1), re-exported for the layers that drive a handshake.
export { NOISE_PROTOCOL_NAME, MODE_NORMAL, MODE_PAIRING, type HandshakeMode } from '../protocol/index.js';
export { WARM_HANDSHAKE_ROUNDS, warmHandshake } from './warm-handshake.js';
