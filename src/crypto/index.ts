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
export { NOISE_HFS_DH, NOISE_SUITE, parseProtocolName, type NoiseProtocol } from './parse-protocol-name.js';
export {
  KemKeyPair,
  ML_KEM_768_CIPHERTEXT_BYTES,
  ML_KEM_768_PUBLIC_KEY_BYTES,
  ML_KEM_ENCAPS_RANDOMNESS_BYTES,
  ML_KEM_KEYGEN_SEED_BYTES,
  ML_KEM_SHARED_SECRET_BYTES,
  kemEncapsulate,
  type KemEncapsulation,
} from './ml-kem.js';
export {
  REKEY_INTERVAL_MESSAGES,
  REKEY_INTERVAL_MS,
  REKEY_MESSAGE_TYPE,
  SessionCipher,
  isRekeyMessage,
  type NonceRange,
  type SessionCipherOptions,
} from './session-cipher.js';
export { SymmetricState } from './symmetric-state.js';
export {
  KeyPair,
  X25519_KEY_BYTES,
  dh,
  generateKeyPair,
  keyPairFromPrivateBytes,
  publicKeyFromBytes,
} from './x25519.js';
// Pairing (PROTOCOL.md §12): the pairing code, and pairing's keys and tags; the exchange of PAIR_* messages is
// machines/pairing-exchange.ts. CPace on ristretto255/SHA-512 (crypto/cpace.ts) is imported from its own file,
// not through this barrel: its group (@noble/curves) costs ~25 ms of CPU to load, and every command loads this
// barrel while only pairing runs CPace (issue 14). Its sizes come from here.
export { CPACE_ISK_BYTES, CPACE_POINT_BYTES, CPACE_SCALAR_BYTES } from './cpace-encoding.js';
export {
  INVITE_ID_CHARS,
  PAIRING_CODE_CHARS,
  PAIRING_SECRET_BITS,
  PAIRING_SECRET_BYTES,
  PairingCode,
  formatPairingCode,
  generatePairingCode,
  isInviteId,
  isPairingSecret,
  parsePairingCode,
  randomPairingSecret,
  type GeneratePairingCodeOptions,
} from './pairing-code.js';
export {
  PAIR_CONFIRM_TAG_BYTES,
  PairingResult,
  pairingChannelId,
  pairingConfirmTag,
  pairingConfirmTags,
  pairingMacKey,
  type PairingConfirmTags,
  pairingPrs,
} from './pairing-keys.js';
export {
  clientRotationProof,
  keyCommitment,
  serverRotationProof,
  type RotationBinding,
} from './key-rotation.js';
