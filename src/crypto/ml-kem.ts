import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { FerryError } from '../errors/index.js';

/** ML-KEM-768 encapsulation (public) key length, FIPS 203 Table 3 (Noise HFS KEMPUBLICKEYLEN). */
export const ML_KEM_768_PUBLIC_KEY_BYTES = 1184;
/** ML-KEM-768 ciphertext length, FIPS 203 Table 3 (Noise HFS KEMCIPHERTEXTLEN). */
export const ML_KEM_768_CIPHERTEXT_BYTES = 1088;
/** ML-KEM shared secret length (Noise HFS KEMOUTPUTLEN). */
export const ML_KEM_SHARED_SECRET_BYTES = 32;
/** The key-generation seed `d || z` of ML-KEM.KeyGen_internal (FIPS 203 Algorithm 16). */
export const ML_KEM_KEYGEN_SEED_BYTES = 64;
/** The message `m` of ML-KEM.Encaps_internal (FIPS 203 Algorithm 17). */
export const ML_KEM_ENCAPS_RANDOMNESS_BYTES = 32;

/**
 * An ML-KEM-768 key pair (the Noise HFS `e1` ephemeral). The decapsulation key is a Buffer that `close()`
 * zeroes; it never leaves this module except through `kemDecapsulate`. Prints as `[redacted]`.
 */
export class KemKeyPair {
  /** The 1184-byte encapsulation key, sent by the `e1` token. */
  readonly publicKey: Buffer;
  readonly #secretKey: Buffer;

  /** From a 64-byte seed `d || z` (FIPS 203 KeyGen_internal); random when omitted. */
  constructor(seed?: Uint8Array) {
    const keySeed = seed === undefined ? randomBytes(ML_KEM_KEYGEN_SEED_BYTES) : Buffer.from(seed);
    if (keySeed.length !== ML_KEM_KEYGEN_SEED_BYTES)
      throw new FerryError('USAGE_INVALID', `ML-KEM seed must be ${ML_KEM_KEYGEN_SEED_BYTES} bytes`);
    const { publicKey, secretKey } = ml_kem768.keygen(keySeed);
    keySeed.fill(0);
    this.publicKey = Buffer.from(publicKey);
    this.#secretKey = Buffer.from(secretKey);
    secretKey.fill(0);
  }

  /** ML-KEM.Decaps: the shared secret for `ciphertext` (implicit rejection gives an unrelated secret). */
  decapsulate(ciphertext: Uint8Array): Buffer {
    if (ciphertext.length !== ML_KEM_768_CIPHERTEXT_BYTES) {
      throw new FerryError(
        'HANDSHAKE_FAILED',
        `ML-KEM ciphertext of ${ciphertext.length} bytes, expected ${ML_KEM_768_CIPHERTEXT_BYTES}`,
      );
    }
    // noble wipes the key it is given, so it gets a copy and ours stays usable until close().
    const secretKey = Uint8Array.from(this.#secretKey);
    try {
      return Buffer.from(ml_kem768.decapsulate(ciphertext, secretKey));
    } finally {
      secretKey.fill(0);
    }
  }

  /** Zeroes the decapsulation key. Idempotent. */
  close(): void {
    this.#secretKey.fill(0);
  }

  [inspect.custom](): string {
    return 'KemKeyPair [redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }
}

/** A ciphertext for the peer and the shared secret it carries (the secret must be zeroed after use). */
export interface KemEncapsulation {
  ciphertext: Buffer;
  sharedSecret: Buffer;
}

/**
 * ML-KEM.Encaps against a received encapsulation key. FIPS 203 §7.2's input check (length, and every
 * coefficient below q) runs first: a key that fails it is HANDSHAKE_FAILED. `randomness` (32 bytes) is only
 * for test vectors.
 */
export function kemEncapsulate(publicKey: Uint8Array, randomness?: Uint8Array): KemEncapsulation {
  if (publicKey.length !== ML_KEM_768_PUBLIC_KEY_BYTES) {
    throw new FerryError(
      'HANDSHAKE_FAILED',
      `ML-KEM public key of ${publicKey.length} bytes, expected ${ML_KEM_768_PUBLIC_KEY_BYTES}`,
    );
  }
  if (randomness !== undefined && randomness.length !== ML_KEM_ENCAPS_RANDOMNESS_BYTES)
    throw new FerryError(
      'USAGE_INVALID',
      `ML-KEM randomness must be ${ML_KEM_ENCAPS_RANDOMNESS_BYTES} bytes`,
    );
  let result: { cipherText: Uint8Array; sharedSecret: Uint8Array };
  try {
    result = ml_kem768.encapsulate(
      publicKey,
      randomness === undefined ? randomBytes(ML_KEM_ENCAPS_RANDOMNESS_BYTES) : Uint8Array.from(randomness),
    );
  } catch {
    throw new FerryError('HANDSHAKE_FAILED', 'ML-KEM public key failed the FIPS 203 modulus check');
  }
  const encapsulation = {
    ciphertext: Buffer.from(result.cipherText),
    sharedSecret: Buffer.from(result.sharedSecret),
  };
  result.sharedSecret.fill(0);
  return encapsulation;
}
