import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { CipherState } from './cipher-state.js';
import { HASH_BYTES, noiseHkdf } from './noise-hkdf.js';

/**
 * A Noise SymmetricState (spec §5.2): the chaining key `ck`, the handshake hash `h` and the CipherState they
 * key. Every secret Buffer it replaces is zeroed. Prints as `[redacted]`.
 */
export class SymmetricState {
  readonly #cipher = new CipherState();
  #chainingKey: Buffer;
  #hash: Buffer;

  /** InitializeSymmetric(protocol_name). */
  constructor(protocolName: string) {
    const name = Buffer.from(protocolName, 'utf8');
    // Names up to HASHLEN bytes are zero-padded, longer ones hashed (spec §5.2).
    if (name.length <= HASH_BYTES) {
      this.#hash = Buffer.alloc(HASH_BYTES);
      name.copy(this.#hash);
    } else {
      this.#hash = createHash('sha256').update(name).digest();
    }
    this.#chainingKey = Buffer.from(this.#hash);
  }

  /** MixKey(input_key_material): a DH output (or, with psk, an ephemeral key) enters the chaining key. */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [chainingKey, tempKey] = noiseHkdf(this.#chainingKey, inputKeyMaterial, 2) as [Buffer, Buffer];
    this.#replaceChainingKey(chainingKey);
    this.#cipher.initializeKey(tempKey);
    tempKey.fill(0);
  }

  /** MixHash(data): h = HASH(h || data). */
  mixHash(data: Uint8Array): void {
    this.#hash = createHash('sha256').update(this.#hash).update(data).digest();
  }

  /** MixKeyAndHash(input_key_material): used for psk tokens (spec §9). */
  mixKeyAndHash(inputKeyMaterial: Uint8Array): void {
    const [chainingKey, tempHash, tempKey] = noiseHkdf(this.#chainingKey, inputKeyMaterial, 3) as [
      Buffer,
      Buffer,
      Buffer,
    ];
    this.#replaceChainingKey(chainingKey);
    this.mixHash(tempHash);
    tempHash.fill(0);
    this.#cipher.initializeKey(tempKey);
    tempKey.fill(0);
  }

  /** GetHandshakeHash(): a copy of `h`, for channel binding once the handshake is complete. */
  getHandshakeHash(): Buffer {
    return Buffer.from(this.#hash);
  }

  /** True once a key has been mixed in, i.e. from now on static keys and payloads are encrypted. */
  hasKey(): boolean {
    return this.#cipher.hasKey();
  }

  /** EncryptAndHash(plaintext): encrypts with `h` as associated data, then mixes the ciphertext into `h`. */
  encryptAndHash(plaintext: Uint8Array): Buffer {
    const ciphertext = this.#cipher.encryptWithAd(this.#hash, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** DecryptAndHash(ciphertext): the inverse; throws DECRYPT_FAILED and leaves `h` unchanged on failure. */
  decryptAndHash(ciphertext: Uint8Array): Buffer {
    const plaintext = this.#cipher.decryptWithAd(this.#hash, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /**
   * Split(): derives the two transport CipherStates (initiator-to-responder first). The chaining key is
   * zeroed afterwards: it could re-derive both transport keys, and the handshake is over.
   */
  split(): [CipherState, CipherState] {
    const [key1, key2] = noiseHkdf(this.#chainingKey, Buffer.alloc(0), 2) as [Buffer, Buffer];
    const first = new CipherState();
    const second = new CipherState();
    first.initializeKey(key1);
    second.initializeKey(key2);
    key1.fill(0);
    key2.fill(0);
    this.close();
    return [first, second];
  }

  /** Zeroes the chaining key and forgets the handshake cipher key; `h` is kept for GetHandshakeHash. Idempotent. */
  close(): void {
    this.#chainingKey.fill(0);
    this.#cipher.close();
  }

  [inspect.custom](): string {
    return 'SymmetricState [redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  #replaceChainingKey(next: Buffer): void {
    this.#chainingKey.fill(0);
    this.#chainingKey = next;
  }
}
