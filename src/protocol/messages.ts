import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';
import { BATCH_CODECS } from './batch-codecs.js';
import { DELTA_CODECS } from './delta-codecs.js';
import { MAX_MESSAGE_BYTES } from './constants.js';
import { GET_CODECS } from './get-codecs.js';
import { LIST_CODECS } from './list-codecs.js';
import { hex, writeDataHeader, type MessageCodec, type MessageCodecTable } from './message-codec.js';
import { MessageReader } from './message-reader.js';
import {
  MESSAGE_TYPE_CODES,
  PAIR_MESSAGE_TYPE_CODES,
  type Message,
  type MessageType,
  type PairMessage,
  type PairMessageOfType,
  type PairMessageType,
} from './message-types.js';
import { PAIR_CODECS, PAIR_MESSAGE_BYTES } from './pair-codecs.js';
import { KEY_CODECS } from './key-codecs.js';
import { PUT_CODECS } from './put-codecs.js';
import { REMOVE_CODECS } from './remove-codecs.js';
import { ATTRIBUTES_CODECS } from './attributes-codecs.js';
import { SESSION_CODECS } from './session-codecs.js';
import { GET_BATCH_CODECS } from './get-batch-codecs.js';

// The message shapes live in message-types.ts; they are re-exported so callers can import from here.
export {
  MESSAGE_TYPE_CODES,
  PAIR_MESSAGE_TYPE_CODES,
  type AckMessage,
  type BatchDoneMessage,
  type BatchEntry,
  type BatchEntryResult,
  type CancelMessage,
  type KeepaliveMessage,
  type DeltaBlocksMessage,
  type ErrorMessage,
  type GetChunkMessage,
  type GetDataMessage,
  type GetEndMessage,
  type GetOfferMessage,
  type GetRequestMessage,
  type GetStripe,
  type BytePiece,
  type KeyCommitMessage,
  type KeyRotateMessage,
  type ListEndMessage,
  type ListEntriesMessage,
  type ListEntry,
  type ListEntryKind,
  type ListRequestMessage,
  type Message,
  type MessageOfType,
  type MessageType,
  type PairConfirmMessage,
  type PairDoneMessage,
  type PairHelloMessage,
  type PairMessage,
  type PairMessageOfType,
  type PairMessageType,
  type PairReplyMessage,
  type ProgressMessage,
  type PutAcceptMessage,
  type BatchEndMessage,
  type PutBatchMessage,
  type PutChunkMessage,
  type PutCopyMessage,
  type PutDataMessage,
  type PutDirMessage,
  type PutDoneMessage,
  type PutEndMessage,
  type PutLinkMessage,
  type PutOfferMessage,
  type WelcomeMessage,
  type RemoveRequestMessage,
  type SetAttributesMessage,
  type GetBatchMessage,
  type GetBatchDataMessage,
  type GetBatchEntry,
} from './message-types.js';
export { listEntryBytes } from './list-codecs.js';
export { batchEntryBytes } from './batch-codecs.js';
export { getBatchEntryBytes, getBatchPathBytes } from './get-batch-codecs.js';

// One table of every message type, per family in its own file. The type annotation makes the compiler
// insist on a codec for every name in MESSAGE_TYPE_CODES.
const CODECS: MessageCodecTable<MessageType> = {
  ...SESSION_CODECS,
  ...PUT_CODECS,
  ...BATCH_CODECS,
  ...DELTA_CODECS,
  ...GET_CODECS,
  ...LIST_CODECS,
  ...KEY_CODECS,
  ...REMOVE_CODECS,
  ...ATTRIBUTES_CODECS,
  ...GET_BATCH_CODECS,
};

// The same codecs by type byte, for the decoder, with the name its errors use (`put_offer`). A codec of one
// member of the union is seen as a codec of the union: sound, as each only ever meets its own type.
const DECODERS = new Map<number, { codec: MessageCodec<Message>; context: string }>(
  (Object.keys(MESSAGE_TYPE_CODES) as MessageType[]).map((type) => [
    MESSAGE_TYPE_CODES[type],
    { codec: CODECS[type], context: type.toLowerCase() },
  ]),
);

/**
 * Encodes a message: its type byte and body (PROTOCOL.md §5). Refuses (MESSAGE_MALFORMED) exactly what
 * `decodeMessage` would refuse, so nothing this writes is rejected by a conforming peer.
 */
export function encodeMessage(message: Message | PairMessage): Buffer {
  const type: unknown = message.type;
  // Own properties only: a `type` of 'toString' must not find Object.prototype's.
  if (typeof type === 'string' && Object.hasOwn(CODECS, type)) {
    return (CODECS[type as MessageType] as MessageCodec<Message>).encode(message as Message);
  }
  if (typeof type === 'string' && Object.hasOwn(PAIR_CODECS, type)) {
    return (PAIR_CODECS[type as PairMessageType] as MessageCodec<PairMessage>).encode(message as PairMessage);
  }
  throw new FerryError('MESSAGE_MALFORMED', `cannot encode unknown message type ${String(type)}`);
}

/**
 * Decodes one message (the plaintext of one record). Strict (PROTOCOL.md §5): unknown types, wrong lengths,
 * non-zero reserved bits, invalid UTF-8, over-long strings and u64 values above 2^53-1 are all
 * MESSAGE_MALFORMED; more bytes than one record can hold is RECORD_TOO_LARGE. Never throws anything but a
 * FerryError.
 */
export function decodeMessage(bytes: Buffer): Message {
  if (bytes.length === 0) throw new FerryError('MESSAGE_MALFORMED', 'empty message');
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw new FerryError('RECORD_TOO_LARGE', `message is ${bytes.length} bytes, limit ${MAX_MESSAGE_BYTES}`);
  }
  const typeCode = bytes[0] as number;
  const decoder = DECODERS.get(typeCode);
  // PROTOCOL.md §5: a receiver MUST reject unknown types; unassigned types are reserved, so unknown too.
  if (decoder === undefined) {
    throw new FerryError('MESSAGE_MALFORMED', `unknown message type 0x${hex(typeCode)}`);
  }
  return decoder.codec.decode(new MessageReader(bytes.subarray(1), decoder.context));
}

/**
 * Decodes one pairing message (the plaintext of one record) that must be of type `expected` (PROTOCOL.md
 * §12.5, §12.6): another type byte is MESSAGE_UNEXPECTED, a wrong length or an invite id outside the alphabet
 * of §12.1 MESSAGE_MALFORMED. Separate from `decodeMessage` because only a pairing exchange reads these, and
 * only the one it waits for next. Never throws anything but a FerryError.
 */
export function decodePairMessage<K extends PairMessageType>(
  bytes: Uint8Array,
  expected: K,
): PairMessageOfType<K> {
  const name = expected.toLowerCase();
  if (bytes[0] !== PAIR_MESSAGE_TYPE_CODES[expected]) {
    throw new FerryError('MESSAGE_UNEXPECTED', `expected ${name}, got message type 0x${hex(bytes[0] ?? 0)}`);
  }
  const length = PAIR_MESSAGE_BYTES[expected];
  if (bytes.length !== length) {
    throw new FerryError('MESSAGE_MALFORMED', `${name} must be ${length} bytes, got ${bytes.length}`);
  }
  const body = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1);
  return (PAIR_CODECS[expected] as MessageCodec<PairMessageOfType<K>>).decode(new MessageReader(body, name));
}

/**
 * Writes the 13-byte PUT_DATA header (type, ref, file offset) into `target` at `offset` and returns the
 * bytes written, so a sender can read file data straight into `target` after it (PROTOCOL.md §5). The
 * caller must make the data at least 1 byte and at most MAX_PUT_DATA_BYTES.
 */
export function writePutDataHeader(target: Buffer, offset: number, ref: number, fileOffset: number): number {
  return writeDataHeader('PUT_DATA', target, offset, ref, fileOffset);
}

/**
 * Writes the 13-byte GET_DATA header (type, ref, file offset) into `target` at `offset` and returns the
 * bytes written, so the server can read file data straight into `target` after it (PROTOCOL.md §5.11.2).
 * The caller must make the data at least 1 byte and at most MAX_GET_DATA_BYTES.
 */
export function writeGetDataHeader(target: Buffer, offset: number, ref: number, fileOffset: number): number {
  return writeDataHeader('GET_DATA', target, offset, ref, fileOffset);
}
