export { FramedSocket } from './framed-socket.js';
export { SecureChannel } from './secure-channel.js';
export {
  clientHandshake,
  serverHandshake,
  NOISE_PROTOCOL_NAME,
  HANDSHAKE_TIMEOUT_MS,
  MODE_NORMAL,
  MODE_PAIRING,
  type ClientHandshakeOptions,
  type ServerHandshakeOptions,
} from './handshake.js';
