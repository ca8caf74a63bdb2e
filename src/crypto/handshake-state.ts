import { inspect } from 'node:util';
import { FerryError } from '../errors/index.js';
import { AEAD_TAG_BYTES, type CipherState } from './cipher-state.js';
import type { HandshakePattern, HandshakeRole, MessagePattern, MessageToken } from './handshake-patterns.js';
import { parseProtocolName } from './parse-protocol-name.js';
import { SymmetricState } from './symmetric-state.js';
import {
  KemKeyPair,
  kemEncapsulate,
  ML_KEM_768_CIPHERTEXT_BYTES,
  ML_KEM_768_PUBLIC_KEY_BYTES,
} from './ml-kem.js';
import { dh, generateKeyPair, X25519_KEY_BYTES, type KeyPair } from './x25519.js';

/** Noise's cap on any message, handshake or transport (spec §3): lengths fit a 16-bit prefix. */
export const NOISE_MAX_MESSAGE_BYTES = 65535;
/** Length in bytes of a pre-shared key (spec §9). */
export const PSK_BYTES = 32;

/** Options for a `HandshakeState`. Keys are only those the pattern needs; extra or missing ones are refused. */
export interface HandshakeOptions {
  /** A pattern name (`XX`, `IKpsk2`) or a full protocol name (`Noise_XX_25519_AESGCM_SHA256`). */
  protocolName: string;
  initiator: boolean;
  /** Bytes both sides must agree on; mixed into the handshake hash before any message. */
  prologue?: Uint8Array;
  /** This side's static key pair. */
  s?: KeyPair;
  /** This side's ephemeral key pair: only for test vectors; normally generated when the `e` token is sent. */
  e?: KeyPair;
  /** The peer's static public key, for patterns where it is known beforehand (`<- s` before `...`). */
  rs?: Uint8Array;
  /** The peer's ephemeral public key, for pre-message `e` tokens. */
  re?: Uint8Array;
  /** Pre-shared keys, one per psk token, in order. */
  psks?: readonly Uint8Array[];
  /** Source of ephemeral key pairs; injected so tests control randomness. */
  generateEphemeral?: () => KeyPair;
  /** This side's KEM ephemeral for `e1` (hfs patterns): test vectors, or one made fresh by the caller. */
  e1?: KemKeyPair;
  /** The 32-byte ML-KEM encapsulation randomness for `ekem1` (hfs patterns): only for test vectors. */
  kemEncapsulationRandomness?: Uint8Array;
}

/** The transport CipherStates from this side's point of view. */
export interface SplitCipherStates {
  send: CipherState;
  receive: CipherState;
}

/**
 * A Noise HandshakeState (spec §5.3), sans-IO: `writeMessage(payload)` returns the bytes to send and
 * `readMessage(bytes)` returns the peer's payload; the caller moves bytes. Once `isComplete`, `split()` gives
 * the transport ciphers. Any failure poisons the state (a half-processed message leaves it unusable) and
 * zeroes its secrets. Prints as `[redacted]`.
 */
export class HandshakeState {
  readonly #pattern: HandshakePattern;
  readonly #role: HandshakeRole;
  readonly #symmetric: SymmetricState;
  readonly #psks: Buffer[];
  readonly #generateEphemeral: () => KeyPair;
  readonly #s: KeyPair | null;
  #e: KeyPair | null;
  #e1: KemKeyPair | null;
  #re1: Buffer | null = null;
  readonly #kemRandomness: Buffer | undefined;
  #rs: Buffer | null;
  #re: Buffer | null;
  #messageIndex = 0;
  #pskIndex = 0;
  #failed = false;
  #split = false;

  constructor(options: HandshakeOptions) {
    const protocol = parseProtocolName(options.protocolName);
    const pattern = protocol.pattern;
    this.#pattern = pattern;
    this.#role = options.initiator ? 'initiator' : 'responder';
    this.#s = options.s ?? null;
    this.#e = options.e ?? null;
    this.#e1 = options.e1 ?? null;
    this.#kemRandomness =
      options.kemEncapsulationRandomness === undefined
        ? undefined
        : Buffer.from(options.kemEncapsulationRandomness);
    this.#rs = options.rs === undefined ? null : Buffer.from(options.rs);
    this.#re = options.re === undefined ? null : Buffer.from(options.re);
    this.#psks = (options.psks ?? []).map((psk) => Buffer.from(psk));
    this.#generateEphemeral = options.generateEphemeral ?? generateKeyPair;
    this.#checkKeys();

    // Initialize(): h = protocol name, then the prologue, then the pre-message keys, initiator's first
    // (spec §5.3). Both sides must hash the same keys in the same order.
    this.#symmetric = new SymmetricState(protocol.name);
    this.#symmetric.mixHash(options.prologue ?? Buffer.alloc(0));
    for (const token of pattern.initiatorPreMessage)
      this.#mixPreMessageKey(token, this.#role === 'initiator');
    for (const token of pattern.responderPreMessage)
      this.#mixPreMessageKey(token, this.#role === 'responder');
  }

  /** True once every handshake message has been written or read. */
  get isComplete(): boolean {
    return this.#messageIndex === this.#pattern.messages.length;
  }

  /** True when the next step is this side's `writeMessage` (false when complete or waiting to read). */
  get isMyTurn(): boolean {
    return !this.isComplete && this.#pattern.messages[this.#messageIndex]?.sender === this.#role;
  }

  /** `h` after the last message: a value both sides share, for channel binding. Only once complete. */
  get handshakeHash(): Buffer {
    if (!this.isComplete) throw new FerryError('MESSAGE_UNEXPECTED', 'handshake hash read before completion');
    return this.#symmetric.getHandshakeHash();
  }

  /** The peer's static public key (pre-known or received), or null if the pattern has none yet. */
  get remoteStaticPublicKey(): Buffer | null {
    return this.#rs === null ? null : Buffer.from(this.#rs);
  }

  /** WriteMessage(payload): performs this side's next message pattern and returns the message bytes. */
  writeMessage(payload: Uint8Array): Buffer {
    const message = this.#nextMessage('write');
    const length = this.#messageLength(message, payload.length);
    if (length > NOISE_MAX_MESSAGE_BYTES) {
      throw new FerryError(
        'USAGE_INVALID',
        `handshake message of ${length} bytes exceeds ${NOISE_MAX_MESSAGE_BYTES}`,
      );
    }
    return this.#guard(() => {
      const parts: Buffer[] = [];
      for (const token of message.tokens) {
        switch (token) {
          // e: a fresh ephemeral, sent in clear and hashed; with psk it also keys the cipher (spec §9) so
          // that later encryption depends on both the psk and this ephemeral.
          case 'e': {
            this.#e ??= this.#generateEphemeral();
            const publicKey = this.#e.publicKey;
            parts.push(Buffer.from(publicKey));
            this.#symmetric.mixHash(publicKey);
            if (this.#pattern.pskCount > 0) this.#symmetric.mixKey(publicKey);
            break;
          }
          // s: our static public key, encrypted once a key exists.
          case 's':
            parts.push(this.#symmetric.encryptAndHash(this.#requireKeyPair(this.#s, 's').publicKey));
            break;
          // psk: the next pre-shared key.
          case 'psk':
            this.#mixPsk();
            break;
          // e1 (noise_hfs §4): a fresh KEM key pair; its public key is sent like a static key (encrypted once
          // a key exists). Unlike `e` it never calls MixKey, psk or not.
          case 'e1':
            this.#e1 ??= new KemKeyPair();
            parts.push(this.#symmetric.encryptAndHash(this.#e1.publicKey));
            break;
          // ekem1 (noise_hfs §4): encapsulate to the peer's e1, send the ciphertext like a static key, then
          // MixKey(kem_output): from here the chaining key depends on ML-KEM as well as on X25519.
          case 'ekem1': {
            const { ciphertext, sharedSecret } = kemEncapsulate(
              this.#requireKey(this.#re1, 'ekem1'),
              this.#kemRandomness,
            );
            parts.push(this.#symmetric.encryptAndHash(ciphertext));
            this.#symmetric.mixKey(sharedSecret);
            sharedSecret.fill(0);
            break;
          }
          // ee, es, se, ss: a DH result into the chaining key.
          default:
            this.#mixDh(token);
        }
      }
      // payload: always last, encrypted if any key has been mixed in by now.
      parts.push(this.#symmetric.encryptAndHash(payload));
      this.#messageIndex += 1;
      return Buffer.concat(parts);
    });
  }

  /** ReadMessage(message): consumes the peer's next message and returns its decrypted payload. */
  readMessage(message: Uint8Array): Buffer {
    const pattern = this.#nextMessage('read');
    // The length checks come before any state changes, so a truncated message is refused cleanly.
    if (message.length > NOISE_MAX_MESSAGE_BYTES) {
      this.#fail();
      throw new FerryError(
        'HANDSHAKE_FAILED',
        `message of ${message.length} bytes exceeds ${NOISE_MAX_MESSAGE_BYTES}`,
      );
    }
    const minimum = this.#messageLength(pattern, 0);
    if (message.length < minimum) {
      this.#fail();
      throw new FerryError(
        'HANDSHAKE_FAILED',
        `message of ${message.length} bytes, expected at least ${minimum}`,
      );
    }
    return this.#guard(() => {
      let offset = 0;
      for (const token of pattern.tokens) {
        switch (token) {
          // e: the peer's ephemeral, in clear; with psk it also keys the cipher (spec §9).
          case 'e': {
            const publicKey = Buffer.from(message.subarray(offset, offset + X25519_KEY_BYTES));
            offset += X25519_KEY_BYTES;
            this.#re = publicKey;
            this.#symmetric.mixHash(publicKey);
            if (this.#pattern.pskCount > 0) this.#symmetric.mixKey(publicKey);
            break;
          }
          // s: the peer's static key, encrypted (and authenticated) once a key exists.
          case 's': {
            const length = X25519_KEY_BYTES + (this.#symmetric.hasKey() ? AEAD_TAG_BYTES : 0);
            this.#rs = this.#symmetric.decryptAndHash(message.subarray(offset, offset + length));
            offset += length;
            break;
          }
          // psk: the next pre-shared key.
          case 'psk':
            this.#mixPsk();
            break;
          // e1: the peer's KEM public key, encrypted once a key exists (noise_hfs §4).
          case 'e1': {
            const length = ML_KEM_768_PUBLIC_KEY_BYTES + (this.#symmetric.hasKey() ? AEAD_TAG_BYTES : 0);
            this.#re1 = this.#symmetric.decryptAndHash(message.subarray(offset, offset + length));
            offset += length;
            break;
          }
          // ekem1: the peer's KEM ciphertext to our e1; decapsulate, then MixKey(kem_output). ML-KEM's implicit
          // rejection turns a forged ciphertext into an unrelated secret, so the payload's tag fails below.
          case 'ekem1': {
            const length = ML_KEM_768_CIPHERTEXT_BYTES + (this.#symmetric.hasKey() ? AEAD_TAG_BYTES : 0);
            const ciphertext = this.#symmetric.decryptAndHash(message.subarray(offset, offset + length));
            offset += length;
            const e1 = this.#e1;
            if (e1 === null) throw new FerryError('INTERNAL', 'no local key for ekem1');
            const sharedSecret = e1.decapsulate(ciphertext);
            this.#symmetric.mixKey(sharedSecret);
            sharedSecret.fill(0);
            break;
          }
          // ee, es, se, ss: a DH result into the chaining key.
          default:
            this.#mixDh(token);
        }
      }
      // payload: the rest of the message; its tag authenticates the whole transcript so far.
      const payload = this.#symmetric.decryptAndHash(message.subarray(offset));
      this.#messageIndex += 1;
      return payload;
    });
  }

  /**
   * Split(): the transport ciphers once the handshake is complete. The initiator sends with the first and
   * the responder with the second (spec §5.2). Callable once; afterwards the chaining key is zeroed.
   */
  split(): SplitCipherStates {
    if (!this.isComplete || this.#failed || this.#split) {
      throw new FerryError('MESSAGE_UNEXPECTED', 'split before the handshake completed or split twice');
    }
    this.#split = true;
    const [first, second] = this.#symmetric.split();
    this.#forgetEphemerals();
    this.#zeroPsks();
    return this.#role === 'initiator' ? { send: first, receive: second } : { send: second, receive: first };
  }

  /** Zeroes the chaining key and psks and forgets the ephemeral key. Idempotent. */
  close(): void {
    // A closed state must refuse further use with a coded error, like a failed one, rather than reach a
    // DH with no keys left.
    this.#failed = true;
    this.#symmetric.close();
    this.#zeroPsks();
    this.#forgetEphemerals();
  }

  [inspect.custom](): string {
    return 'HandshakeState [redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  #nextMessage(action: 'write' | 'read'): MessagePattern {
    if (this.#failed) throw new FerryError('HANDSHAKE_FAILED', 'handshake already failed');
    const message = this.#pattern.messages[this.#messageIndex];
    if (message === undefined)
      throw new FerryError('MESSAGE_UNEXPECTED', `${action} after the handshake completed`);
    const mine = message.sender === this.#role;
    if (mine !== (action === 'write')) {
      throw new FerryError(
        'MESSAGE_UNEXPECTED',
        `${action} out of turn at handshake message ${this.#messageIndex + 1}`,
      );
    }
    return message;
  }

  // Byte length of a message with the given payload, simulating when a key first appears: `s` and the
  // payload carry a tag only once something has been mixed into the key.
  #messageLength(message: MessagePattern, payloadLength: number): number {
    let hasKey = this.#symmetric.hasKey();
    let length = 0;
    for (const token of message.tokens) {
      if (token === 'e') {
        length += X25519_KEY_BYTES;
        if (this.#pattern.pskCount > 0) hasKey = true;
      } else if (token === 's') {
        length += X25519_KEY_BYTES + (hasKey ? AEAD_TAG_BYTES : 0);
      } else if (token === 'e1') {
        length += ML_KEM_768_PUBLIC_KEY_BYTES + (hasKey ? AEAD_TAG_BYTES : 0);
      } else if (token === 'ekem1') {
        length += ML_KEM_768_CIPHERTEXT_BYTES + (hasKey ? AEAD_TAG_BYTES : 0);
        hasKey = true;
      } else {
        hasKey = true;
      }
    }
    return length + payloadLength + (hasKey ? AEAD_TAG_BYTES : 0);
  }

  #guard<T>(step: () => T): T {
    try {
      return step();
    } catch (err) {
      this.#fail();
      throw err;
    }
  }

  #fail(): void {
    this.#failed = true;
    this.close();
  }

  #mixPreMessageKey(token: 'e' | 's', ours: boolean): void {
    let publicKey: Buffer;
    if (token === 's')
      publicKey = ours ? this.#requireKeyPair(this.#s, 's').publicKey : this.#requireKey(this.#rs, 'rs');
    else publicKey = ours ? this.#requireKeyPair(this.#e, 'e').publicKey : this.#requireKey(this.#re, 're');
    this.#symmetric.mixHash(publicKey);
    // A pre-message `e` follows the same psk rule as a sent one (spec §9).
    if (token === 'e' && this.#pattern.pskCount > 0) this.#symmetric.mixKey(publicKey);
  }

  #mixPsk(): void {
    const psk = this.#psks[this.#pskIndex];
    if (psk === undefined) throw new FerryError('INTERNAL', 'psk token without a psk');
    this.#pskIndex += 1;
    this.#symmetric.mixKeyAndHash(psk);
  }

  // es means DH(initiator's e, responder's s) on both sides, so each side picks its own half by role.
  #mixDh(token: Exclude<MessageToken, 'e' | 's' | 'psk' | 'e1' | 'ekem1'>): void {
    const initiator = this.#role === 'initiator';
    let local: KeyPair | null;
    let remote: Buffer | null;
    switch (token) {
      case 'ee':
        [local, remote] = [this.#e, this.#re];
        break;
      case 'es':
        [local, remote] = initiator ? [this.#e, this.#rs] : [this.#s, this.#re];
        break;
      case 'se':
        [local, remote] = initiator ? [this.#s, this.#re] : [this.#e, this.#rs];
        break;
      case 'ss':
        [local, remote] = [this.#s, this.#rs];
        break;
    }
    const shared = dh(this.#requireKeyPair(local, token).privateKey, this.#requireKey(remote, token));
    this.#symmetric.mixKey(shared);
    shared.fill(0);
  }

  #requireKeyPair(key: KeyPair | null, what: string): KeyPair {
    if (key === null) throw new FerryError('INTERNAL', `no local key for ${what}`);
    return key;
  }

  #requireKey(key: Buffer | null, what: string): Buffer {
    if (key === null) throw new FerryError('INTERNAL', `no remote key for ${what}`);
    return key;
  }

  // Checks the options against the pattern up front, so a misconfigured side fails before sending anything.
  #checkKeys(): void {
    const pattern = this.#pattern;
    const initiator = this.#role === 'initiator';
    const ours = initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage;
    const theirs = initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage;
    const sendsStatic = pattern.messages.some((m) => m.sender === this.#role && m.tokens.includes('s'));
    const needS = ours.includes('s') || sendsStatic;
    const problems: string[] = [];
    if (needS !== (this.#s !== null)) problems.push(needS ? 'missing s' : 'unexpected s');
    if (ours.includes('e') && this.#e === null) problems.push('missing e for the pre-message');
    if (theirs.includes('s') !== (this.#rs !== null))
      problems.push(this.#rs === null ? 'missing rs' : 'unexpected rs');
    if (theirs.includes('e') !== (this.#re !== null))
      problems.push(this.#re === null ? 'missing re' : 'unexpected re');
    for (const key of [this.#rs, this.#re]) {
      if (key !== null && key.length !== X25519_KEY_BYTES) problems.push(`remote key of ${key.length} bytes`);
    }
    if (this.#psks.length !== pattern.pskCount) {
      problems.push(`${pattern.pskCount} psks needed, ${this.#psks.length} given`);
    }
    if (this.#psks.some((psk) => psk.length !== PSK_BYTES)) problems.push(`psks must be ${PSK_BYTES} bytes`);
    if (problems.length > 0) {
      this.#zeroPsks();
      throw new FerryError('USAGE_INVALID', `${pattern.name} as ${this.#role}: ${problems.join(', ')}`);
    }
  }

  #forgetEphemerals(): void {
    this.#e = null;
    this.#e1?.close();
    this.#e1 = null;
    this.#kemRandomness?.fill(0);
  }

  #zeroPsks(): void {
    for (const psk of this.#psks) psk.fill(0);
  }
}
