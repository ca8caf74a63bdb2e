import { randomBytes, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import {
  PAIRING_SECRET_BITS,
  PAIRING_SECRET_BYTES,
  isPairingSecret,
  randomPairingSecret,
  PairingResult,
  pairingChannelId,
  pairingConfirmTags,
  pairingPrs,
  parsePairingCode,
  type PairingConfirmTags,
  type PairingCode,
} from '../crypto/index.js';
// CPace from its own file: the crypto barrel leaves it out so that only pairing loads its group (issue 14).
import {
  cpaceInitiatorFinish,
  cpaceInitiatorStart,
  cpaceResponderRespond,
  cpaceSampleScalar,
  type CpaceInitiatorState,
} from '../crypto/cpace.js';
import { FerryError } from '../errors/index.js';
import {
  PAIR_MESSAGE_TYPE_CODES,
  decodePairMessage,
  encodeMessage,
  type PairConfirmMessage,
  type PairDoneMessage,
  type PairHelloMessage,
  type PairMessage,
  type PairMessageType,
  type PairReplyMessage,
} from '../protocol/index.js';
import { stepOf, type Transition } from './transition.js';

/**
 * The pairing exchange of PROTOCOL.md §12, sans-IO: both roles turn received PAIR_* messages into messages to
 * send, and never touch a socket, a file or a clock. A received message is either the decoded message the
 * channel read with `decodePairMessage`, or its bytes (type byte and body, §5), which are decoded here with
 * the same codec; ERROR messages are the caller's business. The key math (PRS, CI, mac_key, tags) is
 * crypto/pairing-keys.ts and crypto/cpace.ts, the codecs protocol/pair-codecs.ts; this file owns the order of
 * the steps, as the two tables below (PROTOCOL.md §6.7, §6.8) that each role steps through.
 *
 *   client                                  server
 *   start()        PAIR_HELLO   inviteId, Ya  ->   (caller consumes the invite; new PairingServer)
 *                  PAIR_REPLY   Yb           <-   receive(hello)
 *   receive(reply) PAIR_CONFIRM Tc           ->   receive(confirm): verify Tc
 *                                                 (caller writes the allow-list, then sends)
 *                  PAIR_DONE    Ts           <-
 *   receive(done): verify Ts, then pin the server key
 */

const SID_BYTES = 32;
const STATIC_KEY_BYTES = 32;
const EMPTY = Buffer.alloc(0);

/**
 * The server's steps (PROTOCOL.md §6.7, §12.5): the role steps through this table, so a message out of order
 * is MESSAGE_UNEXPECTED `"<type> in state <state>"`. A failed step leaves the role in `over`, which allows
 * nothing.
 */
export const PAIRING_SERVER_TRANSITIONS = [
  {
    state: 'new',
    event: 'PAIR_HELLO',
    next: 'reply-sent',
    action:
      "CPace response from the consumed invite's secret, or a random stand-in when there is none (§12.5 step 3); Ya checked (PAIRING_FAILED); PAIR_REPLY sent",
  },
  {
    state: 'reply-sent',
    event: 'PAIR_CONFIRM',
    next: 'paired',
    action:
      'Tc checked in one comparison (PAIRING_FAILED, §12.5 step 5); the caller allow-lists the key, then sends PAIR_DONE',
  },
] as const satisfies readonly Transition[];

/** The client's steps (PROTOCOL.md §6.8, §12.6), stepped through as the server's are. */
export const PAIRING_CLIENT_TRANSITIONS = [
  {
    state: 'new',
    event: 'start',
    next: 'hello-sent',
    action: 'PAIR_HELLO sent right after handshake message 3: the invite id and Ya (§12.6 step 3)',
  },
  {
    state: 'hello-sent',
    event: 'PAIR_REPLY',
    next: 'confirm-sent',
    action: 'Yb checked (PAIRING_FAILED, §12.6 step 4); PAIR_CONFIRM sent with Tc',
  },
  {
    state: 'confirm-sent',
    event: 'PAIR_DONE',
    next: 'paired',
    action: 'Ts checked (PAIRING_FAILED); only then the caller pins the server key (§12.6 step 5)',
  },
] as const satisfies readonly Transition[];

type PairingTransition = (typeof PAIRING_SERVER_TRANSITIONS | typeof PAIRING_CLIENT_TRANSITIONS)[number];

/**
 * The row of `table` a received message takes in `state`. Bytes are read as the one message the state
 * allows, so a wrong type gets the codec's detail (`expected pair_reply, got message type 0x43`, which the
 * server sends in its ERROR); a decoded message, or any message where none is allowed, is refused by the
 * table.
 */
function receivedStep<T extends PairingTransition>(
  table: readonly T[],
  state: string,
  message: Uint8Array | PairMessage,
): { row: T; message: PairMessage } {
  if (message instanceof Uint8Array) {
    // Where no message is allowed, the table refuses whatever came (stepOf throws).
    const row =
      table.find((candidate) => candidate.state === state && candidate.event !== 'start') ??
      stepOf(table, state, typeNameOf(message));
    return { row, message: decodePairMessage(message, row.event as PairMessageType) };
  }
  const row = stepOf(table, state, message.type);
  // A message built by hand rather than decoded gets the codec's checks too (field lengths, invite id).
  encodeMessage(message);
  return { row, message };
}

/** A pairing message's type name from its first byte, or its hex code when it is not one. */
function typeNameOf(bytes: Uint8Array): string {
  const code = bytes[0] ?? 0;
  const name = (Object.keys(PAIR_MESSAGE_TYPE_CODES) as PairMessageType[]).find(
    (type) => PAIR_MESSAGE_TYPE_CODES[type] === code,
  );
  return name ?? `message type 0x${code.toString(16).padStart(2, '0')}`;
}

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
  | { readonly done: false; readonly send: PairMessage }
  | { readonly done: true; readonly send: PairDoneMessage | undefined; readonly result: PairingResult };

/**
 * The invite id named by a PAIR_HELLO's bytes, so the server can consume that invite before it builds its
 * {@link PairingServer}. Checks the message's type and shape (§12.5 step 2): MESSAGE_UNEXPECTED for another
 * type, MESSAGE_MALFORMED for a wrong length or an id outside the alphabet.
 */
export function readPairHelloInviteId(message: Uint8Array): string {
  return decodePairMessage(message, 'PAIR_HELLO').inviteId;
}

type ClientState =
  | { readonly name: 'new' }
  | { readonly name: 'hello-sent'; readonly cpace: CpaceInitiatorState; readonly ya: Buffer }
  | { readonly name: 'confirm-sent'; readonly isk: Buffer; readonly tags: PairingConfirmTags }
  | { readonly name: 'paired' }
  | { readonly name: 'over' };

type HelloSent = Extract<ClientState, { name: 'hello-sent' }>;
type ConfirmSent = Extract<ClientState, { name: 'confirm-sent' }>;

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
  start(): PairHelloMessage {
    stepOf(PAIRING_CLIENT_TRANSITIONS, this.#state.name, 'start');
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
    return { type: 'PAIR_HELLO', inviteId: this.#inviteId, ya: Buffer.from(ya) };
  }

  /** Handles PAIR_REPLY (returns PAIR_CONFIRM to send) and then PAIR_DONE (returns the result). */
  receive(message: Uint8Array | PairMessage): PairingStep {
    const state = this.#state;
    this.#state = { name: 'over' };
    try {
      const step = receivedStep(PAIRING_CLIENT_TRANSITIONS, state.name, message);
      // The row's state is `state.name`, so each case knows which state it has.
      switch (step.row.event) {
        case 'PAIR_REPLY':
          return this.#onReply(state as HelloSent, (step.message as PairReplyMessage).yb);
        case 'PAIR_DONE':
          return this.#onDone(state as ConfirmSent, (step.message as PairDoneMessage).tag);
        case 'start':
          throw new FerryError('INTERNAL', 'start is a call, never a received message');
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

  #onReply(state: HelloSent, yb: Buffer): PairingStep {
    const ada = Buffer.from(this.#inviteId, 'ascii');
    let isk: Buffer;
    try {
      // §12.6 step 4: Yb must decode, must not be the identity, and neither may K.
      isk = cpaceInitiatorFinish(state.cpace, { message: yb, ad: EMPTY });
    } catch (err) {
      throw new FerryError('PAIRING_FAILED', 'the server sent an invalid cpace message', { cause: err });
    }
    const tags = pairingConfirmTags(this.#binding.sid, isk, state.ya, ada, yb, EMPTY);
    this.#state = { name: 'confirm-sent', isk, tags };
    return { done: false, send: { type: 'PAIR_CONFIRM', tag: tags.ta } };
  }

  #onDone(state: ConfirmSent, tag: Buffer): PairingStep {
    const expected = state.tags.tb;
    // §12.6 step 5: the server's key is authenticated only by this tag; pinning waits for it.
    if (!timingSafeEqual(expected, tag)) {
      throw new FerryError('PAIRING_FAILED', 'the server did not prove the same code');
    }
    const result = new PairingResult(this.#inviteId, state.isk);
    state.isk.fill(0);
    this.#state = { name: 'paired' };
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
      readonly tags: PairingConfirmTags;
    }
  | { readonly name: 'paired' }
  | { readonly name: 'over' };

type ReplySent = Extract<ServerState, { name: 'reply-sent' }>;

/**
 * The server role (§12.5 steps 2-6). Build it after consuming the invite that PAIR_HELLO named (its
 * `inviteId`, or {@link readPairHelloInviteId} of its bytes); feed it PAIR_HELLO, then PAIR_CONFIRM. Every
 * failure throws (PAIRING_FAILED for anything about the code) and ends the exchange for good.
 */
export class PairingServer {
  readonly #binding: Required<Omit<PairingSessionBinding, 'random'>>;
  readonly #random: ((bytes: number) => Uint8Array) | undefined;
  readonly #secret: Buffer;
  #state: ServerState = { name: 'new' };

  constructor(options: PairingServerOptions) {
    this.#binding = checkBinding(options);
    this.#random = options.random;
    if (options.secret !== undefined && !isPairingSecret(options.secret)) {
      throw new FerryError(
        'INTERNAL',
        `an invite secret is ${PAIRING_SECRET_BYTES} bytes holding ${PAIRING_SECRET_BITS} bits`,
      );
    }
    // No invite: a random stand-in secret, so the exchange runs the same way and fails at PAIR_CONFIRM.
    this.#secret =
      options.secret === undefined
        ? randomPairingSecret(this.#random ?? randomBytes)
        : Buffer.from(options.secret);
  }

  /** Handles PAIR_HELLO (returns PAIR_REPLY) and then PAIR_CONFIRM (returns PAIR_DONE and the result). */
  receive(message: Uint8Array | PairMessage): PairingStep {
    const state = this.#state;
    this.#state = { name: 'over' };
    try {
      const step = receivedStep(PAIRING_SERVER_TRANSITIONS, state.name, message);
      switch (step.row.event) {
        case 'PAIR_HELLO':
          return this.#onHello(step.message as PairHelloMessage);
        case 'PAIR_CONFIRM':
          return this.#onConfirm(state as ReplySent, (step.message as PairConfirmMessage).tag);
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

  #onHello({ inviteId, ya }: PairHelloMessage): PairingStep {
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
    const tags = pairingConfirmTags(this.#binding.sid, isk, ya, ada, yb, EMPTY);
    this.#state = { name: 'reply-sent', inviteId, isk, tags };
    return { done: false, send: { type: 'PAIR_REPLY', yb: Buffer.from(yb) } };
  }

  #onConfirm(state: ReplySent, tag: Buffer): PairingStep {
    const expected = state.tags.ta;
    // §12.5 step 5: one comparison decides, whether the id was unknown, expired or the secret wrong.
    if (!timingSafeEqual(expected, tag)) {
      throw new FerryError('PAIRING_FAILED', 'the client did not prove the code');
    }
    // Sent only now that the client has proved the code (§12.3); the caller allow-lists before sending it.
    const done: PairDoneMessage = { type: 'PAIR_DONE', tag: state.tags.tb };
    const result = new PairingResult(state.inviteId, state.isk);
    state.isk.fill(0);
    this.#state = { name: 'paired' };
    return { done: true, send: done, result };
  }

  [inspect.custom](): string {
    return `PairingServer ${this.#state.name} [redacted]`;
  }

  toJSON(): string {
    return '[redacted]';
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
