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
  type PairingConfirmTags,
} from '../crypto/index.js';
// CPace from its own file: the crypto barrel leaves it out so that only pairing loads its group (issue 14).
import { cpaceResponderRespond } from '../crypto/cpace.js';
import { FerryError } from '../errors/index.js';
import type {
  PairConfirmMessage,
  PairDoneMessage,
  PairHelloMessage,
  PairMessage,
} from '../protocol/index.js';
import { EMPTY, checkBinding, scalarOption, type PairingSessionBinding } from './pairing-binding.js';
import { PAIRING_SERVER_TRANSITIONS, receivedStep, type PairingStep } from './pairing-exchange.js';

/** Options of {@link PairingServer}. */
export interface PairingServerOptions extends PairingSessionBinding {
  /**
   * The secret of the invite that PAIR_HELLO named, just consumed from the invite store; undefined when
   * there was no such invite or it had expired. The server then runs with a random secret and fails at
   * PAIR_CONFIRM, exactly as for a wrong code (§12.5 step 3). The caller keeps ownership (and zeroes it).
   */
  secret: Uint8Array | undefined;
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
