import { Buffer } from 'node:buffer';
import { CPACE_POINT_BYTES, INVITE_ID_CHARS, PAIR_CONFIRM_TAG_BYTES, isInviteId } from '../crypto/index.js';
import type { MessageCodec } from './message-codec.js';
import { MessageWriter } from './message-writer.js';
import {
  PAIR_MESSAGE_TYPE_CODES,
  type PairConfirmMessage,
  type PairDoneMessage,
  type PairMessageOfType,
  type PairMessageType,
} from './message-types.js';

/** A codec for each pairing message type; the type annotation makes the compiler insist on all four. */
export type PairCodecTable = { readonly [K in PairMessageType]: MessageCodec<PairMessageOfType<K>> };

/** The whole size of each pairing message, type byte included: every field has a fixed length (§12.4). */
export const PAIR_MESSAGE_BYTES: { readonly [K in PairMessageType]: number } = {
  PAIR_HELLO: 1 + INVITE_ID_CHARS + CPACE_POINT_BYTES,
  PAIR_REPLY: 1 + CPACE_POINT_BYTES,
  PAIR_CONFIRM: 1 + PAIR_CONFIRM_TAG_BYTES,
  PAIR_DONE: 1 + PAIR_CONFIRM_TAG_BYTES,
};

function startPairMessage(type: PairMessageType): MessageWriter {
  return new MessageWriter(PAIR_MESSAGE_BYTES[type], type.toLowerCase()).u8(
    PAIR_MESSAGE_TYPE_CODES[type],
    'type',
  );
}

/** PAIR_CONFIRM and PAIR_DONE share one layout: a 64-byte key-confirmation tag (§12.3). */
function tagCodec(type: 'PAIR_CONFIRM'): MessageCodec<PairConfirmMessage>;
function tagCodec(type: 'PAIR_DONE'): MessageCodec<PairDoneMessage>;
function tagCodec(type: 'PAIR_CONFIRM' | 'PAIR_DONE'): MessageCodec<PairConfirmMessage | PairDoneMessage> {
  return {
    encode: (message) => startPairMessage(type).fixed(message.tag, PAIR_CONFIRM_TAG_BYTES, 'tag').finish(),
    decode(r) {
      const tag = r.copy(PAIR_CONFIRM_TAG_BYTES, 'tag');
      r.end();
      return { type, tag };
    },
  };
}

/**
 * The codecs of the pairing messages (PROTOCOL.md §12.4). `decodePairMessage` (messages.ts) checks the type
 * byte and the whole length first, as §12.5/§12.6 order those checks; these read the fields.
 */
export const PAIR_CODECS: PairCodecTable = {
  PAIR_HELLO: {
    encode(message) {
      if (!isInviteId(message.inviteId))
        throw new MessageWriter(0, 'pair_hello').fail('invite id is not base32');
      return startPairMessage('PAIR_HELLO')
        .raw(Buffer.from(message.inviteId, 'latin1'))
        .fixed(message.ya, CPACE_POINT_BYTES, 'ya')
        .finish();
    },
    decode(r) {
      const inviteId = r.copy(INVITE_ID_CHARS, 'inviteId').toString('latin1');
      // §12.5 step 2: an id outside the alphabet of §12.1 is malformed, not merely unknown.
      if (!isInviteId(inviteId)) throw r.fail('invite id is not base32');
      const ya = r.copy(CPACE_POINT_BYTES, 'ya');
      r.end();
      return { type: 'PAIR_HELLO', inviteId, ya };
    },
  },
  PAIR_REPLY: {
    encode: (message) => startPairMessage('PAIR_REPLY').fixed(message.yb, CPACE_POINT_BYTES, 'yb').finish(),
    decode(r) {
      const yb = r.copy(CPACE_POINT_BYTES, 'yb');
      r.end();
      return { type: 'PAIR_REPLY', yb };
    },
  },
  PAIR_CONFIRM: tagCodec('PAIR_CONFIRM'),
  PAIR_DONE: tagCodec('PAIR_DONE'),
};
