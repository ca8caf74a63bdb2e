import { timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';
import {
  PairingResult,
  pairingChannelId,
  pairingConfirmTags,
  pairingPrs,
  parsePairingCode,
  type PairingConfirmTags,
  type PairingCode,
} from '../crypto/index.js';
// CPace from its own file: the crypto barrel leaves it out so that only pairing loads its group (issue 14).
import { cpaceInitiatorFinish, cpaceInitiatorStart, type CpaceInitiatorState } from '../crypto/cpace.js';
import { FerryError } from '../errors/index.js';
import type { PairDoneMessage, PairHelloMessage, PairMessage, PairReplyMessage } from '../protocol/index.js';
import { EMPTY, checkBinding, scalarOption, type PairingSessionBinding } from './pairing-binding.js';
import { PAIRING_CLIENT_TRANSITIONS, receivedStep, type PairingStep } from './pairing-exchange.js';
import { stepOf } from './transition.js';

/** Options of {@link PairingClient}. */
export interface PairingClientOptions extends PairingSessionBinding {
  /** The code the user entered; a string is parsed (PAIRING_CODE_INVALID on a typo). */
  code: PairingCode | string;
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
