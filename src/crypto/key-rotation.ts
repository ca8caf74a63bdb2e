import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { dh, type KeyPair } from './x25519.js';

/**
 * Server key rotation (PROTOCOL.md §13): the commitment to a next key and the proof of holding a new key.
 * X25519 keys cannot sign, so possession of the new key is proved the way Noise proves static keys: by a
 * Diffie-Hellman between the new server key and the client's static key, which only the two holders can
 * compute, keyed into a MAC over this session's handshake hash (so a proof is good for one session only).
 */

const PROOF_INFO = Buffer.from('ferry-key-rotate-v2', 'ascii');

/** `SHA-256(publicKey)`: what a server announces and a client records before the key is ever used (§13.1). */
export function keyCommitment(publicKey: Uint8Array): Buffer {
  return createHash('sha256').update(publicKey).digest();
}

/**
 * `proof = HMAC-SHA-256(k, oldKey || newKey || nextCommitment)` with
 * `k = HKDF-SHA-256(ikm = DH(newKey, clientKey), salt = h, info = "ferry-key-rotate-v2", 32)` (§13.3).
 * `shared` is the DH output, computed by {@link serverRotationProof} or {@link clientRotationProof}.
 */
function rotationProof(
  shared: Buffer,
  handshakeHash: Uint8Array,
  oldKey: Uint8Array,
  newKey: Uint8Array,
  nextCommitment: Uint8Array,
): Buffer {
  const key = Buffer.from(hkdfSync('sha256', shared, handshakeHash, PROOF_INFO, 32));
  shared.fill(0);
  try {
    return createHmac('sha256', key).update(oldKey).update(newKey).update(nextCommitment).digest();
  } finally {
    key.fill(0);
  }
}

/** The inputs both sides bind into a rotation proof. */
export interface RotationBinding {
  /** The Noise handshake hash `h` of this session (§3.3). */
  readonly handshakeHash: Uint8Array;
  /** The key this session was authenticated with: the server's current static public key. */
  readonly oldKey: Uint8Array;
  /** The commitment to the key after the new one (§13.3). */
  readonly nextCommitment: Uint8Array;
}

/** The server's proof that it holds `newIdentity`, for the client whose static public key is `clientKey`. */
export function serverRotationProof(
  newIdentity: KeyPair,
  clientKey: Uint8Array,
  binding: RotationBinding,
): Buffer {
  const shared = dh(newIdentity.privateKey, clientKey);
  return rotationProof(
    shared,
    binding.handshakeHash,
    binding.oldKey,
    newIdentity.publicKey,
    binding.nextCommitment,
  );
}

/** The proof the client expects from a server that holds the private key of `newKey`. */
export function clientRotationProof(
  clientIdentity: KeyPair,
  newKey: Uint8Array,
  binding: RotationBinding,
): Buffer {
  const shared = dh(clientIdentity.privateKey, newKey);
  return rotationProof(shared, binding.handshakeHash, binding.oldKey, newKey, binding.nextCommitment);
}
