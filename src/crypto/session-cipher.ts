import { inspect } from 'node:util';
import { FerryError, isFerryError } from '../errors/index.js';
import type { CipherState } from './cipher-state.js';

/**
 * Records encrypted under one key before that direction rekeys. 2^16 keeps every key far below AES-GCM's
 * usage limits and bounds what one leaked key exposes; Rekey costs one AES block, so it is nearly free.
 */
export const REKEY_INTERVAL_MESSAGES = 65536;

/**
 * Longest time one key protects a direction while records flow (PROTOCOL.md §4.3): 2 minutes, WireGuard's
 * REKEY_AFTER_TIME. Past it, the sender's next record is preceded by a REKEY, so a key taken from memory opens at
 * most the last 2 minutes (or 65536 records) of what was sent under it, and nothing before.
 */
export const REKEY_INTERVAL_MS = 120_000;

/**
 * The message type of REKEY (PROTOCOL.md §4.3, §5): an empty message after which the direction that sent it
 * calls Rekey(). It belongs to the record layer: the channel consumes it, no session machine ever sees it.
 */
export const REKEY_MESSAGE_TYPE = 0x05;

/** True when a record's plaintext is a REKEY message (which `SessionCipher.open` has already acted on). */
export function isRekeyMessage(plaintext: Uint8Array): boolean {
  return plaintext.length === 1 && plaintext[0] === REKEY_MESSAGE_TYPE;
}

/** Consecutive nonces under one key, reserved for sealing elsewhere: `nonce .. nonce+count-1`. */
export interface NonceRange {
  /** The raw 32-byte key; its holder zeroes it once handed over. */
  key: Buffer;
  /** The first nonce, below 2^53. */
  nonce: number;
  count: number;
}

/** Options for a `SessionCipher`. */
export interface SessionCipherOptions {
  /** Rekey each direction after this many records; tests use a small value. Default REKEY_INTERVAL_MESSAGES. */
  rekeyIntervalMessages?: number;
  /**
   * A monotonic clock in milliseconds (the channel passes `performance.now`; tests a fake). Without one there
   * is no time bound, only the record count. crypto/ reads no clock of its own.
   */
  now?: () => number;
  /** The time bound of a key in milliseconds. Default REKEY_INTERVAL_MS. */
  rekeyIntervalMs?: number;
}

/**
 * The transport encryption of one session: seals outgoing records and opens incoming ones with the two
 * CipherStates from the handshake's Split(), empty associated data, and a Rekey of each direction every
 * `rekeyIntervalMessages` records. Records must be opened in the order they were sealed: the implicit
 * nonce makes a replayed, dropped or reordered record fail with DECRYPT_FAILED.
 *
 * NONCE_EXHAUSTED closes the cipher (the session must end); DECRYPT_FAILED leaves it open, as the nonce did
 * not advance, and the caller decides (ferry's channel ends the session). Prints as `[redacted]`.
 */
export class SessionCipher {
  readonly #send: CipherState;
  readonly #receive: CipherState;
  readonly #rekeyInterval: number;
  readonly #now: (() => number) | undefined;
  readonly #rekeyIntervalMs: number;
  #sendKeyedAt: number;
  #sentSinceRekey = 0;
  #receivedSinceRekey = 0;
  #closed = false;

  /**
   * Wraps the two directions: `const { send, receive } = handshake.split(); new SessionCipher(send, receive)`,
   * or two CipherStates keyed by hand in tests. Takes ownership: `close()` closes both.
   */
  constructor(send: CipherState, receive: CipherState, options: SessionCipherOptions = {}) {
    const interval = options.rekeyIntervalMessages ?? REKEY_INTERVAL_MESSAGES;
    if (!Number.isSafeInteger(interval) || interval < 1) {
      throw new FerryError('USAGE_INVALID', `rekey interval must be a positive integer, got ${interval}`);
    }
    if (!send.hasKey() || !receive.hasKey()) {
      throw new FerryError('USAGE_INVALID', 'session cipher needs keyed cipher states');
    }
    const intervalMs = options.rekeyIntervalMs ?? REKEY_INTERVAL_MS;
    if (!(intervalMs > 0))
      throw new FerryError('USAGE_INVALID', `rekey time must be positive, got ${intervalMs}`);
    this.#send = send;
    this.#receive = receive;
    this.#rekeyInterval = interval;
    this.#now = options.now;
    this.#rekeyIntervalMs = intervalMs;
    this.#sendKeyedAt = this.#now?.() ?? 0;
  }

  /**
   * True when the send key is older than the time bound (PROTOCOL.md §4.3): the channel then sends
   * `sealRekey()` before its next record. Checked only when there is something to send, so an idle session
   * costs nothing and needs no timer.
   */
  get rekeyDue(): boolean {
    return this.#now !== undefined && this.#now() - this.#sendKeyedAt >= this.#rekeyIntervalMs;
  }

  /**
   * Seals a REKEY message under the current send key, then calls Rekey() on it (PROTOCOL.md §4.3): the peer
   * does the same on its receive side when it opens this record. Both restart the record count.
   */
  sealRekey(): [Buffer, Buffer] {
    this.#assertOpen();
    let ciphertext: [Buffer, Buffer];
    try {
      ciphertext = this.#send.encryptWithAdParts(EMPTY, REKEY_PLAINTEXT);
    } catch (err) {
      throw this.#closeIfExhausted(err);
    }
    this.#send.rekey();
    this.#sentSinceRekey = 0;
    this.#sendKeyedAt = this.#now?.() ?? 0;
    return ciphertext;
  }

  /** True after `close()` or after the nonce space ran out. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Encrypts one record: returns ciphertext || 16-byte tag. */
  seal(plaintext: Uint8Array): Buffer {
    const [body, tag] = this.sealParts(plaintext);
    return Buffer.concat([body, tag], body.length + tag.length);
  }

  /** Encrypts one record, returning the ciphertext and its 16-byte tag separately (for gathered writes). */
  sealParts(plaintext: Uint8Array): [Buffer, Buffer] {
    this.#assertOpen();
    let ciphertext: [Buffer, Buffer];
    try {
      ciphertext = this.#send.encryptWithAdParts(EMPTY, plaintext);
    } catch (err) {
      throw this.#closeIfExhausted(err);
    }
    this.#sentSinceRekey += 1;
    // Rekey right after the interval's last record, so the next record already uses the new key; the peer
    // does the same after opening that record, keeping both sides in step without any signal on the wire.
    if (this.#sentSinceRekey === this.#rekeyInterval) {
      this.#send.rekey();
      this.#sentSinceRekey = 0;
    }
    return ciphertext;
  }

  /**
   * Decrypts one record; a forged, replayed or reordered record throws DECRYPT_FAILED. A REKEY record rekeys
   * the receive direction here and is returned as is, for the channel to skip (`isRekeyMessage`).
   */
  open(ciphertext: Uint8Array): Buffer {
    this.#assertOpen();
    let plaintext: Buffer;
    try {
      plaintext = this.#receive.decryptWithAd(EMPTY, ciphertext);
    } catch (err) {
      throw this.#closeIfExhausted(err);
    }
    if (plaintext[0] === REKEY_MESSAGE_TYPE) {
      // PROTOCOL.md §4.3: REKEY is exactly one byte; the peer rekeyed its send key right after sealing it.
      if (plaintext.length !== 1)
        throw new FerryError('MESSAGE_MALFORMED', `REKEY with a ${plaintext.length - 1}-byte body`);
      this.#receive.rekey();
      this.#receivedSinceRekey = 0;
      return plaintext;
    }
    this.#receivedSinceRekey += 1;
    if (this.#receivedSinceRekey === this.#rekeyInterval) {
      this.#receive.rekey();
      this.#receivedSinceRekey = 0;
    }
    return plaintext;
  }

  /**
   * Reserves the nonces of the next `count` records to be sealed, for sealing elsewhere (worker threads), and
   * advances this direction as if they had been sealed here, rekeying at the same points (§4.3). Returns the
   * reservation as ranges under one key each, in order; the caller must write the records in that order
   * before anything sealed later, and zero each range's `key` once handed over.
   */
  reserveSend(count: number): NonceRange[] {
    this.#assertOpen();
    const ranges: NonceRange[] = [];
    let left = count;
    while (left > 0) {
      const n = Math.min(left, this.#rekeyInterval - this.#sentSinceRekey);
      const nonce = this.#send.nonce;
      if (nonce + BigInt(n) > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new FerryError('NONCE_EXHAUSTED', 'nonce range beyond 2^53');
      }
      ranges.push({ key: this.#send.exportKey(), nonce: Number(nonce), count: n });
      this.#send.skip(n);
      this.#sentSinceRekey += n;
      left -= n;
      if (this.#sentSinceRekey === this.#rekeyInterval) {
        this.#send.rekey();
        this.#sentSinceRekey = 0;
      }
    }
    return ranges;
  }

  /**
   * Reserves the nonces of the next `count` records to be opened elsewhere (worker threads, issue 14), in
   * arrival order, and advances the receive direction as if they had been opened here, rekeying at the same
   * record counts (§4.3). A REKEY cannot be among them: the caller opens every record short enough to be one
   * with `open` (which rekeys), so the key of the records after it is known before they are reserved. The
   * caller must deliver the records' plaintexts in order, none after one that failed, and zero each range's key.
   */
  reserveReceive(count: number): NonceRange[] {
    this.#assertOpen();
    const ranges: NonceRange[] = [];
    let left = count;
    while (left > 0) {
      const n = Math.min(left, this.#rekeyInterval - this.#receivedSinceRekey);
      const nonce = this.#receive.nonce;
      if (nonce + BigInt(n) > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new FerryError('NONCE_EXHAUSTED', 'nonce range beyond 2^53');
      }
      ranges.push({ key: this.#receive.exportKey(), nonce: Number(nonce), count: n });
      this.#receive.skip(n);
      this.#receivedSinceRekey += n;
      left -= n;
      if (this.#receivedSinceRekey === this.#rekeyInterval) {
        this.#receive.rekey();
        this.#receivedSinceRekey = 0;
      }
    }
    return ranges;
  }

  /** Forgets both keys. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#send.close();
    this.#receive.close();
  }

  [inspect.custom](): string {
    return 'SessionCipher [redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  #assertOpen(): void {
    if (this.#closed) throw new FerryError('MESSAGE_UNEXPECTED', 'session cipher is closed');
  }

  // A used-up nonce space ends the session for good: neither direction may continue under these keys.
  #closeIfExhausted(err: unknown): unknown {
    if (isFerryError(err, 'NONCE_EXHAUSTED')) this.close();
    return err;
  }
}

const EMPTY = Buffer.alloc(0);
const REKEY_PLAINTEXT = Buffer.of(REKEY_MESSAGE_TYPE);
