import {
  PAIR_MESSAGE_TYPE_CODES,
  decodePairMessage,
  encodeMessage,
  type PairDoneMessage,
  type PairMessage,
  type PairMessageType,
} from '../protocol/index.js';
import type { PairingResult } from '../crypto/index.js';
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
export function receivedStep<T extends PairingTransition>(
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
