export { AEAD_TAG_BYTES, CIPHER_KEY_BYTES, CipherState } from './cipher-state.js';
export { FERRY_ID_CHARS, formatFerryId, parseFerryId, shortFerryId } from './ferry-id.js';
export {
  HANDSHAKE_PATTERNS,
  handshakePattern,
  type HandshakePattern,
  type HandshakeRole,
  type MessagePattern,
  type MessageToken,
  type PreMessageToken,
} from './handshake-patterns.js';
export {
  HandshakeState,
  NOISE_MAX_MESSAGE_BYTES,
  PSK_BYTES,
  type HandshakeOptions,
  type SplitCipherStates,
} from './handshake-state.js';
export { HASH_BYTES, noiseHkdf } from './noise-hkdf.js';
export { NOISE_SUITE, parseProtocolName, type NoiseProtocol } from './parse-protocol-name.js';
export { REKEY_INTERVAL_MESSAGES, SessionCipher, type SessionCipherOptions } from './session-cipher.js';
export { SymmetricState } from './symmetric-state.js';
export {
  KeyPair,
  X25519_KEY_BYTES,
  dh,
  generateKeyPair,
  keyPairFromPrivateBytes,
  publicKeyFromBytes,
} from './x25519.js';
