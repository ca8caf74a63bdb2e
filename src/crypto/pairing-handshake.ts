import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import { FerryError } from '../errors/index.js';
import {
  CPACE_POINT_BYTES,
  cpaceInitiatorFinish,
  cpaceInitiatorStart,
  cpaceLvCat,
  cpaceResponderRespond,
  cpaceSampleScalar,
  type CpaceInitiatorState,
} from './cpace.js';
import {
  INVITE_ID_CHARS,
  PAIRING_SECRET_BYTES,
  isInviteId,
  parsePairingCode,
  type PairingCode,
} from './pairing-code.js';

/**
 * The pairing exchange of PROTOCOL.md §12, sans-IO: both roles turn received messages into messages to
 * send, and never touch a socket, a file or a clock. Messages here are whole protocol messages (type byte
 * and body, §5), ready to be put in a record; ERROR messages are the caller's business.
 *
 *   client                                  server
 *   start()        PAIR_HELLO   inviteId, Ya  ->   (caller consumes the invite; new PairingServer)
 *                  PAIR_REPLY   Yb           <-   receive(hello)
 *   receive(reply) PAIR_CONFIRM Tc           ->   receive(confirm): verify Tc
 *                                                 (caller writes the allow-list, then sends)
 *                  PAIR_DONE    Ts           <-
 *   receive(done): verify Ts, then pin the server key
 */

/** Message type codes of the pairing messages (§12.4). */
export const PAIR_MESSAGE_TYPES = {
  PAIR_HELLO: 0x40,
  PAIR_REPLY: 0x41,
  PAIR_CONFIRM: 0x42,
  PAIR_DONE: 0x43,
} as const;

/** Bytes of a key-confirmation tag (HMAC-SHA-512). */
export const PAIR_CONFIRM_TAG_BYTES = 64;

const PAIR_HELLO_BYTES = 1 + INVITE_ID_CHARS + CPACE_POINT_BYTES;
const PAIR_REPLY_BYTES = 1 + CPACE_POINT_BYTES;
const PAIR_CONFIRM_BYTES = 1 + PAIR_CONFIRM_TAG_BYTES;
const SID_BYTES = 32;
const STATIC_KEY_BYTES = 32;
const PRS_LABEL = Buffer.from('ferry-pair-prs-v1', 'ascii');
const CI_LABEL = Buffer.from('ferry-pair-ci-v1', 'ascii');
const CLIENT_LABEL = Buffer.from('ferry-pair-client', 'ascii');
const SERVER_LABEL = Buffer.from('ferry-pair-server', 'ascii');
const EMPTY = Buffer.alloc(0);

type PairMessageName = keyof typeof PAIR_MESSAGE_TYPES;

/** What both roles know from the Noise handshake they run inside (§12.2). */
export interface PairingSessionBinding {
  /** The Noise handshake hash after message 3 (CPace's sid). */
  sid: Uint8Array;
  /** The client's static X25519 public key as the handshake authenticated it. */
  clientStaticKey: Uint8Array;
  /** The server's static X25519 public key as the handshake authenticated it. */
  serverStaticKey: Uint8Array;
  /** The random source for CPace scalars (and the server's stand-in secret); tests inject one. */
  random?: (bytes: number) => Uint8Array;
}

/** Options of {@link PairingClient}. */
export interface PairingClientOptions extends PairingSessionBinding {
  /** The code the user entered; a string is parsed (PAIRING_CODE_INVALID on a typo). */
  code: PairingCode | string;
}

/** Options of {@link PairingServer}. */
export interface PairingServerOptions extends PairingSessionBinding {
  /**
   * The secret of the invite that PAIR_HELLO named, just consumed from the invite store; undefined when
   * there was no such invite or it had expired. The server then runs with a random secret and fails at
   * PAIR_CONFIRM, exactly as for a wrong code (§12.5 step 3). The caller keeps ownership (and zeroes it).
   */
  secret: Uint8Array | undefined;
}

/** One step of the exchange: the message to send next, and once done, the outcome. */
export type PairingStep =
  | { readonly done: false; readonly send: Buffer }
  | { readonly done: true; readonly send: Buffer | undefined; readonly result: PairingResult };

/**
 * A successful pairing: both sides proved the same code inside this Noise session. Holds ISK (for callers
 * that want a key bound to the pairing; ferry itself needs none), so it prints as `[redacted]`.
 */
export class PairingResult {
  /** The invite the code named. */
  readonly inviteId: string;
  /** CPace's intermediate session key (64 bytes). Zero it with `dispose()`. */
  readonly isk: Buffer;

  /** @internal */
  constructor(inviteId: string, isk: Uint8Array) {
    this.inviteId = inviteId;
    this.isk = Buffer.from(isk);
  }

  /** Zeroes ISK. Idempotent. */
  dispose(): void {
    this.isk.fill(0);
  }

  [inspect.custom](): string {
    return `PairingResult ${this.inviteId} [redacted]`;
  }

  toJSON(): string {
    return '[redacted]';
  }
}

/** `PRS = SHA-512(lv_cat("ferry-pair-prs-v1", inviteId, secret))` (§12.2). Secret: zero it after use. */
export function pairingPrs(inviteId: string, secret: Uint8Array): Buffer {
  const input = cpaceLvCat(PRS_LABEL, Buffer.from(inviteId, 'ascii'), secret);
  try {
    return createHash('sha512').update(input).digest();
  } finally {
    input.fill(0);
  }
}

/** `CI = lv_cat("ferry-pair-ci-v1", clientStaticKey, serverStaticKey)`: the roles are fixed by position. */
export function pairingChannelId(clientStaticKey: Uint8Array, serverStaticKey: Uint8Array): Buffer {
  return cpaceLvCat(CI_LABEL, clientStaticKey, serverStaticKey);
}

/**
 * The invite id named by a PAIR_HELLO, so the server can consume that invite before it builds its
 * {@link PairingServer}. Checks the message's type and shape (§12.5 step 2): MESSAGE_UNEXPECTED for another
 * type, MESSAGE_MALFORMED for a wrong length or an id outside the alphabet.
 */
export function readPairHelloInviteId(message: Uint8Array): string {
  checkMessage(message, 'PAIR_HELLO', PAIR_HELLO_BYTES);
  const inviteId = Buffer.from(message.subarray(1, 1 + INVITE_ID_CHARS)).toString('latin1');
  if (!isInviteId(inviteId)) throw new FerryError('MESSAGE_MALFORMED', 'pair_hello: invite id is not base32');
  return inviteId;
}

type ClientState =
  | { readonly name: 'new' }
  | { readonly name: 'hello-sent'; readonly cpace: CpaceInitiatorState; readonly ya: Buffer }
  | { readonly name: 'confirm-sent'; readonly isk: Buffer; readonly transcript: Buffer }
  | { readonly name: 'over' };

/** The client role (§12.6 steps 3-5). Every failure throws and ends the exchange for good. */
export class PairingClient {
  readonly #binding: Required<Omit<PairingSessionBinding, 'random'>>;
  readonly #random: ((bytes: number) => Uint8Array) | undefined;
  readonly #inviteId: string;
  readonly #prs: Buffer;
  #state: ClientState = { name: 'new' };

  constructor(options: PairingClientOptions) {
    this.#binding = checkBinding(options);
    this.#random = options.random;
    const code = typeof options.code === 'string' ? parsePairingCode(options.code) : options.code;
    this.#inviteId = code.inviteId;
    this.#prs = pairingPrs(code.inviteId, code.secret);
    if (typeof options.code === 'string') code.dispose();
  }

  /** PAIR_HELLO: the invite id and Ya. Call once, right after handshake message 3. */
  start(): Buffer {
    if (this.#state.name !== 'new') throw new FerryError('MESSAGE_UNEXPECTED', 'pairing already started');
    const ad = Buffer.from(this.#inviteId, 'ascii');
    const { message: ya, state: cpace } = cpaceInitiatorStart({
      prs: this.#prs,
      ci: pairingChannelId(this.#binding.clientStaticKey, this.#binding.serverStaticKey),
      sid: this.#binding.sid,
      ad,
      ...scalarOption(this.#random),
    });
    // The password only feeds the generator; Ya is computed, and the state keeps just the scalar.
    this.#prs.fill(0);
    this.#state = { name: 'hello-sent', cpace, ya };
    return Buffer.concat([Buffer.of(PAIR_MESSAGE_TYPES.PAIR_HELLO), ad, ya]);
  }

  /** Handles PAIR_REPLY (returns PAIR_CONFIRM to send) and then PAIR_DONE (returns the result). */
  receive(message: Uint8Array): PairingStep {
    const state = this.#state;
    this.#state = { name: 'over' };
    try {
      switch (state.name) {
        case 'hello-sent':
          return this.#onReply(state, message);
        case 'confirm-sent':
          return this.#onDone(state, message);
        default:
          throw new FerryError('MESSAGE_UNEXPECTED', `pairing message in state ${state.name}`);
      }
    } catch (err) {
      this.#forget(state);
      throw err;
    }
  }

  /** Forgets every secret; the exchange cannot continue. Idempotent. */
  dispose(): void {
    this.#forget(this.#state);
    this.#state = { name: 'over' };
    this.#prs.fill(0);
  }

  #onReply(state: Extract<ClientState, { name: 'hello-sent' }>, message: Uint8Array): PairingStep {
    checkMessage(message, 'PAIR_REPLY', PAIR_REPLY_BYTES);
    const yb = Buffer.from(message.subarray(1));
    const ada = Buffer.from(this.#inviteId, 'ascii');
    let isk: Buffer;
    try {
      // §12.6 step 4: Yb must decode, must not be the identity, and neither may K.
      isk = cpaceInitiatorFinish(state.cpace, { message: yb, ad: EMPTY });
    } catch (err) {
      throw new FerryError('PAIRING_FAILED', 'the server sent an invalid cpace message', { cause: err });
    }
    const transcript = confirmTranscript(this.#binding.sid, state.ya, ada, yb, EMPTY);
    const tag = confirmTag(isk, CLIENT_LABEL, transcript);
    this.#state = { name: 'confirm-sent', isk, transcript };
    return { done: false, send: Buffer.concat([Buffer.of(PAIR_MESSAGE_TYPES.PAIR_CONFIRM), tag]) };
  }

  #onDone(state: Extract<ClientState, { name: 'confirm-sent' }>, message: Uint8Array): PairingStep {
    checkMessage(message, 'PAIR_DONE', PAIR_CONFIRM_BYTES);
    const expected = confirmTag(state.isk, SERVER_LABEL, state.transcript);
    // §12.6 step 5: the server's key is authenticated only by this tag; pinning waits for it.
    if (!timingSafeEqual(expected, message.subarray(1))) {
      throw new FerryError('PAIRING_FAILED', 'the server did not prove the same code');
    }
    const result = new PairingResult(this.#inviteId, state.isk);
    state.isk.fill(0);
    return { done: true, send: undefined, result };
  }

  #forget(state: ClientState): void {
    if (state.name === 'hello-sent') state.cpace.dispose();
    if (state.name === 'confirm-sent') state.isk.fill(0);
  }

  [inspect.custom](): string {
    return `PairingClient ${this.#state.name} [redacted]`;
  }

  toJSON(): string {
    return '[redacted]';
  }
}

type ServerState =
  | { readonly name: 'new' }
  | {
      readonly name: 'reply-sent';
      readonly inviteId: string;
      readonly isk: Buffer;
      readonly transcript: Buffer;
    }
  | { readonly name: 'over' };

/**
 * The server role (§12.5 steps 2-6). Build it after consuming the invite that
 * {@link readPairHelloInviteId} named; feed it PAIR_HELLO, then PAIR_CONFIRM. Every failure throws
 * (PAIRING_FAILED for anything about the code) and ends the exchange for good.
 */
export class PairingServer {
  readonly #binding: Required<Omit<PairingSessionBinding, 'random'>>;
  readonly #random: ((bytes: number) => Uint8Array) | undefined;
  readonly #secret: Buffer;
  #state: ServerState = { name: 'new' };

  constructor(options: PairingServerOptions) {
    this.#binding = checkBinding(options);
    this.#random = options.random;
    if (options.secret !== undefined && options.secret.length !== PAIRING_SECRET_BYTES) {
      throw new FerryError(
        'INTERNAL',
        `an invite secret is ${PAIRING_SECRET_BYTES} bytes, got ${options.secret.length}`,
      );
    }
    // No invite: a random stand-in secret, so the exchange runs the same way and fails at PAIR_CONFIRM.
    this.#secret = Buffer.from(options.secret ?? (this.#random ?? randomBytes)(PAIRING_SECRET_BYTES));
  }

  /** Handles PAIR_HELLO (returns PAIR_REPLY) and then PAIR_CONFIRM (returns PAIR_DONE and the result). */
  receive(message: Uint8Array): PairingStep {
    const state = this.#state;
    this.#state = { name: 'over' };
    try {
      switch (state.name) {
        case 'new':
          return this.#onHello(message);
        case 'reply-sent':
          return this.#onConfirm(state, message);
        default:
          throw new FerryError('MESSAGE_UNEXPECTED', 'pairing is over');
      }
    } catch (err) {
      if (state.name === 'reply-sent') state.isk.fill(0);
      throw err;
    } finally {
      // The secret serves only the generator in PAIR_HELLO's step.
      this.#secret.fill(0);
    }
  }

  /** Forgets every secret; the exchange cannot continue. Idempotent. */
  dispose(): void {
    if (this.#state.name === 'reply-sent') this.#state.isk.fill(0);
    this.#state = { name: 'over' };
    this.#secret.fill(0);
  }

  #onHello(message: Uint8Array): PairingStep {
    const inviteId = readPairHelloInviteId(message);
    const ya = Buffer.from(message.subarray(1 + INVITE_ID_CHARS));
    const ada = Buffer.from(inviteId, 'ascii');
    const prs = pairingPrs(inviteId, this.#secret);
    let yb: Buffer;
    let isk: Buffer;
    try {
      // §12.5 step 4: Ya must decode, must not be the identity, and neither may K.
      ({ message: yb, isk } = cpaceResponderRespond(
        {
          prs,
          ci: pairingChannelId(this.#binding.clientStaticKey, this.#binding.serverStaticKey),
          sid: this.#binding.sid,
          ad: EMPTY,
          ...scalarOption(this.#random),
        },
        { message: ya, ad: ada },
      ));
    } catch (err) {
      throw new FerryError('PAIRING_FAILED', 'the client sent an invalid cpace message', { cause: err });
    } finally {
      prs.fill(0);
    }
    const transcript = confirmTranscript(this.#binding.sid, ya, ada, yb, EMPTY);
    this.#state = { name: 'reply-sent', inviteId, isk, transcript };
    return { done: false, send: Buffer.concat([Buffer.of(PAIR_MESSAGE_TYPES.PAIR_REPLY), yb]) };
  }

  #onConfirm(state: Extract<ServerState, { name: 'reply-sent' }>, message: Uint8Array): PairingStep {
    checkMessage(message, 'PAIR_CONFIRM', PAIR_CONFIRM_BYTES);
    const expected = confirmTag(state.isk, CLIENT_LABEL, state.transcript);
    // §12.5 step 5: one comparison decides, whether the id was unknown, expired or the secret wrong.
    if (!timingSafeEqual(expected, message.subarray(1))) {
      throw new FerryError('PAIRING_FAILED', 'the client did not prove the code');
    }
    // Sent only now that the client has proved the code (§12.3); the caller allow-lists before sending it.
    const done = Buffer.concat([
      Buffer.of(PAIR_MESSAGE_TYPES.PAIR_DONE),
      confirmTag(state.isk, SERVER_LABEL, state.transcript),
    ]);
    const result = new PairingResult(state.inviteId, state.isk);
    state.isk.fill(0);
    return { done: true, send: done, result };
  }

  [inspect.custom](): string {
    return `PairingServer ${this.#state.name} [redacted]`;
  }

  toJSON(): string {
    return '[redacted]';
  }
}

/** `T = lv_cat(sid, Ya, ADa, Yb, ADb)` (§12.3). */
function confirmTranscript(
  sid: Uint8Array,
  ya: Uint8Array,
  ada: Uint8Array,
  yb: Uint8Array,
  adb: Uint8Array,
): Buffer {
  return cpaceLvCat(sid, ya, ada, yb, adb);
}

/** `HMAC-SHA-512(ISK, lv_cat(label, T))` (§12.3). */
function confirmTag(isk: Uint8Array, label: Uint8Array, transcript: Uint8Array): Buffer {
  return createHmac('sha512', isk).update(cpaceLvCat(label, transcript)).digest();
}

function checkMessage(message: Uint8Array, name: PairMessageName, length: number): void {
  if (message[0] !== PAIR_MESSAGE_TYPES[name]) {
    throw new FerryError(
      'MESSAGE_UNEXPECTED',
      `expected ${name.toLowerCase()}, got message type 0x${(message[0] ?? 0).toString(16).padStart(2, '0')}`,
    );
  }
  if (message.length !== length) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `${name.toLowerCase()} must be ${length} bytes, got ${message.length}`,
    );
  }
}

function checkBinding(options: PairingSessionBinding): Required<Omit<PairingSessionBinding, 'random'>> {
  if (options.sid.length !== SID_BYTES) {
    throw new FerryError(
      'INTERNAL',
      `pairing sid must be the ${SID_BYTES}-byte handshake hash, got ${options.sid.length}`,
    );
  }
  for (const [name, key] of [
    ['client', options.clientStaticKey],
    ['server', options.serverStaticKey],
  ] as const) {
    if (key.length !== STATIC_KEY_BYTES) {
      throw new FerryError(
        'INTERNAL',
        `${name} static key must be ${STATIC_KEY_BYTES} bytes, got ${key.length}`,
      );
    }
  }
  return {
    sid: Buffer.from(options.sid),
    clientStaticKey: Buffer.from(options.clientStaticKey),
    serverStaticKey: Buffer.from(options.serverStaticKey),
  };
}

// An injected random source also draws the CPace scalar (deterministic tests); otherwise cpace samples it.
function scalarOption(random: ((bytes: number) => Uint8Array) | undefined): { scalar?: Uint8Array } {
  return random === undefined ? {} : { scalar: cpaceSampleScalar(random) };
}
