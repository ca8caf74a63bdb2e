import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { FerryError } from '../errors/index.js';

/** Length in bytes of a cipher key (Noise: 32 for every cipher). */
export const CIPHER_KEY_BYTES = 32;
/** Length in bytes of the AES-GCM authentication tag appended to every ciphertext. */
export const AEAD_TAG_BYTES = 16;

const UINT32_MAX = 0xffffffff;
// Rekey encrypts 32 zero bytes under the reserved nonce 2^64-1 (Noise §4.2, §11.3); the buffer is never
// written to, so one shared copy suffices.
const REKEY_NONCE = Buffer.from('00000000ffffffffffffffff', 'hex');
const REKEY_PLAINTEXT = Buffer.alloc(CIPHER_KEY_BYTES);
const EMPTY = Buffer.alloc(0);

/**
 * A Noise CipherState (spec §5.1) for AESGCM: a key `k` and a 64-bit nonce `n`. The AEAD nonce is 4 zero
 * bytes followed by `n` big-endian (spec §12.3).
 *
 * This is the hot path (one call per file record), so the key is imported once into a `KeyObject`, the
 * 12-byte nonce buffer is reused, and `n` is kept as two uint32 halves instead of a bigint.
 */
export class CipherState {
  #key: KeyObject | null = null;
  #nonceHigh = 0;
  #nonceLow = 0;
  readonly #nonceBytes = Buffer.alloc(12);

  /** InitializeKey(key): sets `k` (copied; the caller zeroes its Buffer) and resets `n` to 0. `null` empties k. */
  initializeKey(key: Uint8Array | null): void {
    if (key !== null && key.length !== CIPHER_KEY_BYTES) {
      throw new FerryError('INTERNAL', `cipher key must be ${CIPHER_KEY_BYTES} bytes, got ${key.length}`);
    }
    this.#key = key === null ? null : createSecretKey(key);
    this.#nonceHigh = 0;
    this.#nonceLow = 0;
  }

  /** HasKey(): true once a key is set. */
  hasKey(): boolean {
    return this.#key !== null;
  }

  /** SetNonce(n): used by tests and by protocols with out-of-order delivery; `n` must fit in 64 bits. */
  setNonce(nonce: bigint): void {
    if (nonce < 0n || nonce > 0xffffffffffffffffn) {
      throw new FerryError('INTERNAL', `nonce ${nonce} is outside 0..2^64-1`);
    }
    this.#nonceHigh = Number(nonce >> 32n);
    this.#nonceLow = Number(nonce & 0xffffffffn);
  }

  /** The current nonce `n` (the one the next encrypt or decrypt will use). */
  get nonce(): bigint {
    return (BigInt(this.#nonceHigh) << 32n) | BigInt(this.#nonceLow);
  }

  /**
   * EncryptWithAd(ad, plaintext): returns ciphertext || 16-byte tag and advances `n`. With no key yet it
   * returns a copy of the plaintext (spec §5.1), as the first handshake messages require.
   */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Buffer {
    const [body, tag] = this.encryptWithAdParts(ad, plaintext);
    return tag.length === 0 ? body : Buffer.concat([body, tag], body.length + tag.length);
  }

  /**
   * EncryptWithAd returning the ciphertext body and the tag separately, so a caller that writes them to a
   * socket can gather them instead of copying both into one buffer (the hot path of every file record).
   * Without a key the body is a copy of the plaintext and the tag is empty.
   *
   * One update per record, on purpose. Node 20's update sizes its output for the input plus the cipher's
   * block size (1 for GCM), so every call allocates twice whatever the input size: an uninitialised buffer
   * one byte too long, then a zero-filled one of the right size that the bytes are copied into. Sealing
   * each record in 8 or 16 KiB updates, the pieces written gathered, was measured (issue 14, stop 25:
   * 512 MiB, 5 runs each way, back to back): the sender's page faults fell by a half to two thirds, but
   * the zero-filling moved into calloc and the calls added up. Upload client 2.56 CPU s/GiB with one
   * update, 2.54 (8 KiB) and 2.56 (16 KiB); download server 2.48, 2.62 and 2.46. No gain, so one update.
   */
  encryptWithAdParts(ad: Uint8Array, plaintext: Uint8Array): [Buffer, Buffer] {
    const key = this.#key;
    if (key === null) return [Buffer.from(plaintext), EMPTY];
    const nonce = this.#currentNonce();
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES });
    cipher.setAAD(ad);
    const body = cipher.update(plaintext);
    cipher.final();
    const tag = cipher.getAuthTag();
    this.#advance();
    return [body, tag];
  }

  /**
   * DecryptWithAd(ad, ciphertext): returns the plaintext and advances `n`. On authentication failure it
   * throws DECRYPT_FAILED and leaves `n` unchanged (spec §5.1), so a forged record cannot desynchronise
   * the two sides. With no key it returns a copy of the input.
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Buffer {
    const key = this.#key;
    if (key === null) return Buffer.from(ciphertext);
    if (ciphertext.length < AEAD_TAG_BYTES) {
      throw new FerryError(
        'DECRYPT_FAILED',
        `ciphertext of ${ciphertext.length} bytes is shorter than the tag`,
      );
    }
    const nonce = this.#currentNonce();
    const bodyLength = ciphertext.length - AEAD_TAG_BYTES;
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES });
    decipher.setAuthTag(ciphertext.subarray(bodyLength));
    decipher.setAAD(ad);
    const plaintext = decipher.update(ciphertext.subarray(0, bodyLength));
    try {
      decipher.final();
    } catch (err) {
      // GCM hands out plaintext before the tag is checked; unauthenticated bytes must not linger.
      plaintext.fill(0);
      throw new FerryError('DECRYPT_FAILED', `nonce ${this.nonce}`, { cause: err });
    }
    this.#advance();
    return plaintext;
  }

  /**
   * Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty ad, 32 zero bytes) (spec §4.2). `n` is left
   * alone (spec §5.1), so the nonce sequence continues across the new key.
   */
  rekey(): void {
    const key = this.#key;
    if (key === null) throw new FerryError('INTERNAL', 'rekey without a key');
    const cipher = createCipheriv('aes-256-gcm', key, REKEY_NONCE, { authTagLength: AEAD_TAG_BYTES });
    cipher.setAAD(EMPTY);
    const next = cipher.update(REKEY_PLAINTEXT);
    cipher.final();
    this.#key = createSecretKey(next);
    next.fill(0);
  }

  /**
   * The raw key, for a worker thread that seals or opens a reserved range of nonces in parallel (issue 14's
   * pipeline). The caller owns the copy and zeroes it once handed over. Throws without a key.
   */
  exportKey(): Buffer {
    const key = this.#key;
    if (key === null) throw new FerryError('INTERNAL', 'export without a key');
    return key.export();
  }

  /**
   * Advances `n` by `count` as if `count` messages had been encrypted or decrypted elsewhere under this key
   * with the nonces `n .. n+count-1` (a reserved range). Refuses to reach the reserved 2^64-1.
   */
  skip(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0) throw new FerryError('INTERNAL', `skip ${count}`);
    const next = this.nonce + BigInt(count);
    if (next >= 0xffffffffffffffffn) throw new FerryError('NONCE_EXHAUSTED', 'nonce reached 2^64-1');
    this.#nonceHigh = Number(next >> 32n);
    this.#nonceLow = Number(next & 0xffffffffn);
  }

  /**
   * Forgets the key. A `KeyObject` cannot be overwritten from JavaScript; Node keeps its bytes outside the JS
   * heap and releases them when the object is collected. Idempotent.
   */
  close(): void {
    this.#key = null;
  }

  [inspect.custom](): string {
    return 'CipherState [redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  // Writes `n` into the reused nonce buffer. n = 2^64-1 is reserved for Rekey (spec §5.1), so reaching it
  // means the key has been used up: the session must end rather than wrap around and reuse a nonce.
  #currentNonce(): Buffer {
    if (this.#nonceHigh === UINT32_MAX && this.#nonceLow === UINT32_MAX) {
      throw new FerryError('NONCE_EXHAUSTED', 'nonce reached 2^64-1');
    }
    this.#nonceBytes.writeUInt32BE(this.#nonceHigh, 4);
    this.#nonceBytes.writeUInt32BE(this.#nonceLow, 8);
    return this.#nonceBytes;
  }

  #advance(): void {
    if (this.#nonceLow === UINT32_MAX) {
      this.#nonceLow = 0;
      this.#nonceHigh += 1;
    } else {
      this.#nonceLow += 1;
    }
  }
}
