import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';
import type { ChunkRange } from './chunk-ranges.js';
import {
  HASH_BYTES,
  MAX_ACCEPT_RANGES,
  MAX_DETAIL_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PATH_BYTES,
  MAX_PUT_DATA_BYTES,
  PUT_ACCEPT_FLAG_RESTARTED,
  PUT_DATA_HEADER_BYTES,
  PUT_OFFER_FLAG_FRESH,
  PUT_OFFER_FLAG_OVERWRITE,
} from './constants.js';
import {
  checkChunkIndex,
  checkDataEnd,
  checkOffer,
  checkPermissions,
  checkRanges,
  checkRef,
} from './message-checks.js';
import { MessageReader } from './message-reader.js';
import {
  MESSAGE_TYPE_CODES,
  type ErrorMessage,
  type Message,
  type PutOfferMessage,
} from './message-types.js';
import { MessageWriter, encodeUtf8 } from './message-writer.js';

// The message shapes live in message-types.ts; they are re-exported so callers can import from here.
export {
  MESSAGE_TYPE_CODES,
  type ErrorMessage,
  type Message,
  type MessageType,
  type ProgressMessage,
  type PutAcceptMessage,
  type PutChunkMessage,
  type PutDataMessage,
  type PutDoneMessage,
  type PutEndMessage,
  type PutOfferMessage,
  type WelcomeMessage,
} from './message-types.js';

const KNOWN_OFFER_FLAGS = PUT_OFFER_FLAG_OVERWRITE | PUT_OFFER_FLAG_FRESH;
const KNOWN_ACCEPT_FLAGS = PUT_ACCEPT_FLAG_RESTARTED;
const RANGE_BYTES = 8;

/**
 * Encodes a message: its type byte and body (PROTOCOL.md §5). Refuses (MESSAGE_MALFORMED) exactly what
 * `decodeMessage` would refuse, so nothing this writes is rejected by a conforming peer.
 */
export function encodeMessage(message: Message): Buffer {
  switch (message.type) {
    case 'ERROR': {
      const detail = encodeUtf8(message.detail, 'error: detail');
      return start(4 + 2 + 2 + detail.length, message)
        .u32(message.ref, 'ref')
        .u16(message.code, 'code')
        .str(detail, MAX_DETAIL_BYTES, 'detail')
        .finish();
    }
    case 'WELCOME':
      checkPermissions(message.permissions);
      return start(1 + 8, message)
        .u8(message.permissions, 'permissions')
        .u64(message.maxFileBytes, 'maxFileBytes')
        .finish();
    case 'PUT_OFFER': {
      checkOffer(message);
      const path = encodeUtf8(message.path, 'put_offer: path');
      const flags =
        (message.overwrite ? PUT_OFFER_FLAG_OVERWRITE : 0) | (message.fresh ? PUT_OFFER_FLAG_FRESH : 0);
      return start(4 + 8 + 8 + 4 + 2 + 1 + 2 + path.length, message)
        .u32(message.ref, 'ref')
        .u64(message.size, 'size')
        .u64(message.mtimeMs, 'mtimeMs')
        .u32(message.chunkBytes, 'chunkBytes')
        .u16(message.mode, 'mode')
        .u8(flags, 'flags')
        .str(path, MAX_PATH_BYTES, 'path')
        .finish();
    }
    case 'PUT_ACCEPT': {
      checkRef(message.ref, 'put_accept');
      checkRanges(message.ranges, 'put_accept');
      const writer = start(4 + 1 + HASH_BYTES + 2 + RANGE_BYTES * message.ranges.length, message)
        .u32(message.ref, 'ref')
        .u8(message.restarted ? PUT_ACCEPT_FLAG_RESTARTED : 0, 'flags')
        .fixed(message.haveDigest, HASH_BYTES, 'haveDigest')
        .u16(message.ranges.length, 'rangeCount');
      for (const range of message.ranges)
        writer.u32(range.first, 'firstChunk').u32(range.count, 'chunkCount');
      return writer.finish();
    }
    case 'PUT_DATA': {
      const { data } = message;
      if (data.length < 1 || data.length > MAX_PUT_DATA_BYTES) {
        throw new FerryError(
          'MESSAGE_MALFORMED',
          `put_data: data must be 1 to ${MAX_PUT_DATA_BYTES} bytes, got ${data.length}`,
        );
      }
      checkDataEnd(message.offset, data.length);
      const bytes = Buffer.allocUnsafe(PUT_DATA_HEADER_BYTES + data.length);
      writePutDataHeader(bytes, 0, message.ref, message.offset);
      bytes.set(data, PUT_DATA_HEADER_BYTES);
      return bytes;
    }
    case 'PUT_CHUNK':
      checkRef(message.ref, 'put_chunk');
      checkChunkIndex(message.index, 'put_chunk');
      return start(4 + 4 + HASH_BYTES, message)
        .u32(message.ref, 'ref')
        .u32(message.index, 'index')
        .fixed(message.chunkHash, HASH_BYTES, 'chunkHash')
        .finish();
    case 'PUT_END':
      checkRef(message.ref, 'put_end');
      return start(4 + HASH_BYTES, message)
        .u32(message.ref, 'ref')
        .fixed(message.fileDigest, HASH_BYTES, 'fileDigest')
        .finish();
    case 'PUT_DONE':
      checkRef(message.ref, 'put_done');
      // PROTOCOL.md §5.6: PUT_DONE flags MUST be zero in this version.
      return start(4 + 1 + HASH_BYTES, message)
        .u32(message.ref, 'ref')
        .u8(0, 'flags')
        .fixed(message.fileDigest, HASH_BYTES, 'fileDigest')
        .finish();
    case 'PROGRESS':
      checkRef(message.ref, 'progress');
      return start(4 + 8, message)
        .u32(message.ref, 'ref')
        .u64(message.verifiedBytes, 'verifiedBytes')
        .finish();
    default: {
      const unknown: { type?: unknown } = message;
      throw new FerryError('MESSAGE_MALFORMED', `cannot encode unknown message type ${String(unknown.type)}`);
    }
  }
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
  switch (typeCode) {
    case MESSAGE_TYPE_CODES.ERROR: {
      const r = new MessageReader(bytes.subarray(1), 'error');
      const message: ErrorMessage = {
        type: 'ERROR',
        ref: r.u32('ref'),
        code: r.u16('code'),
        detail: r.str(MAX_DETAIL_BYTES, 'detail'),
      };
      r.end();
      return message;
    }
    case MESSAGE_TYPE_CODES.WELCOME: {
      const r = new MessageReader(bytes.subarray(1), 'welcome');
      const permissions = r.u8('permissions');
      const maxFileBytes = r.u64('maxFileBytes');
      r.end();
      checkPermissions(permissions);
      return { type: 'WELCOME', permissions, maxFileBytes };
    }
    case MESSAGE_TYPE_CODES.PUT_OFFER: {
      const r = new MessageReader(bytes.subarray(1), 'put_offer');
      const ref = r.u32('ref');
      const size = r.u64('size');
      const mtimeMs = r.u64('mtimeMs');
      const chunkBytes = r.u32('chunkBytes');
      const mode = r.u16('mode');
      const flags = r.u8('flags');
      const path = r.str(MAX_PATH_BYTES, 'path');
      r.end();
      // PROTOCOL.md §5.3: flag bits other than OVERWRITE and FRESH MUST be zero.
      if ((flags & ~KNOWN_OFFER_FLAGS) !== 0) throw r.fail(`reserved flag bits set in 0x${hex(flags)}`);
      const message: PutOfferMessage = {
        type: 'PUT_OFFER',
        ref,
        size,
        mtimeMs,
        chunkBytes,
        mode,
        overwrite: (flags & PUT_OFFER_FLAG_OVERWRITE) !== 0,
        fresh: (flags & PUT_OFFER_FLAG_FRESH) !== 0,
        path,
      };
      checkOffer(message);
      return message;
    }
    case MESSAGE_TYPE_CODES.PUT_ACCEPT: {
      const r = new MessageReader(bytes.subarray(1), 'put_accept');
      const ref = r.u32('ref');
      const flags = r.u8('flags');
      const haveDigest = r.copy(HASH_BYTES, 'haveDigest');
      const rangeCount = r.u16('rangeCount');
      if (rangeCount > MAX_ACCEPT_RANGES) throw r.fail(`${rangeCount} ranges, limit ${MAX_ACCEPT_RANGES}`);
      // Check the exact length before reading so a short body costs no allocations.
      if (r.remaining !== rangeCount * RANGE_BYTES) {
        throw r.fail(`expected ${rangeCount * RANGE_BYTES} bytes of ranges, got ${r.remaining}`);
      }
      const ranges: ChunkRange[] = [];
      for (let i = 0; i < rangeCount; i++)
        ranges.push({ first: r.u32('firstChunk'), count: r.u32('chunkCount') });
      r.end();
      // PROTOCOL.md §5.4: only RESTARTED is defined.
      if ((flags & ~KNOWN_ACCEPT_FLAGS) !== 0) throw r.fail(`reserved flag bits set in 0x${hex(flags)}`);
      checkRef(ref, 'put_accept');
      checkRanges(ranges, 'put_accept');
      return {
        type: 'PUT_ACCEPT',
        ref,
        restarted: (flags & PUT_ACCEPT_FLAG_RESTARTED) !== 0,
        haveDigest,
        ranges,
      };
    }
    case MESSAGE_TYPE_CODES.PUT_DATA: {
      const r = new MessageReader(bytes.subarray(1), 'put_data');
      const ref = r.u32('ref');
      const offset = r.u64('offset');
      const data = r.rest();
      // PROTOCOL.md §5: data is the rest of the message, at least 1 byte.
      if (data.length === 0) throw r.fail('no data bytes');
      checkRef(ref, 'put_data');
      checkDataEnd(offset, data.length);
      return { type: 'PUT_DATA', ref, offset, data };
    }
    case MESSAGE_TYPE_CODES.PUT_CHUNK: {
      const r = new MessageReader(bytes.subarray(1), 'put_chunk');
      const ref = r.u32('ref');
      const index = r.u32('index');
      const chunkHash = r.copy(HASH_BYTES, 'chunkHash');
      r.end();
      checkRef(ref, 'put_chunk');
      checkChunkIndex(index, 'put_chunk');
      return { type: 'PUT_CHUNK', ref, index, chunkHash };
    }
    case MESSAGE_TYPE_CODES.PUT_END: {
      const r = new MessageReader(bytes.subarray(1), 'put_end');
      const ref = r.u32('ref');
      const fileDigest = r.copy(HASH_BYTES, 'fileDigest');
      r.end();
      checkRef(ref, 'put_end');
      return { type: 'PUT_END', ref, fileDigest };
    }
    case MESSAGE_TYPE_CODES.PUT_DONE: {
      const r = new MessageReader(bytes.subarray(1), 'put_done');
      const ref = r.u32('ref');
      const flags = r.u8('flags');
      const fileDigest = r.copy(HASH_BYTES, 'fileDigest');
      r.end();
      // PROTOCOL.md §5.6: PUT_DONE flags MUST be zero in this version.
      if (flags !== 0) throw r.fail(`reserved flag bits set in 0x${hex(flags)}`);
      checkRef(ref, 'put_done');
      return { type: 'PUT_DONE', ref, fileDigest };
    }
    case MESSAGE_TYPE_CODES.PROGRESS: {
      const r = new MessageReader(bytes.subarray(1), 'progress');
      const ref = r.u32('ref');
      const verifiedBytes = r.u64('verifiedBytes');
      r.end();
      checkRef(ref, 'progress');
      return { type: 'PROGRESS', ref, verifiedBytes };
    }
    default:
      // PROTOCOL.md §5: a receiver MUST reject unknown types (0x20-0x3F are reserved, so unknown too).
      throw new FerryError('MESSAGE_MALFORMED', `unknown message type 0x${hex(typeCode)}`);
  }
}

/**
 * Writes the 13-byte PUT_DATA header (type, ref, file offset) into `target` at `offset` and returns the
 * bytes written, so a sender can read file data straight into `target` after it (PROTOCOL.md §5). The
 * caller must make the data at least 1 byte and at most MAX_PUT_DATA_BYTES.
 */
export function writePutDataHeader(target: Buffer, offset: number, ref: number, fileOffset: number): number {
  if (!Number.isInteger(offset) || offset < 0 || offset + PUT_DATA_HEADER_BYTES > target.length) {
    throw new FerryError(
      'INTERNAL',
      `put_data header at ${offset} does not fit a ${target.length}-byte buffer`,
    );
  }
  checkRef(ref, 'put_data');
  if (!Number.isSafeInteger(fileOffset) || fileOffset < 0) {
    throw new FerryError('MESSAGE_MALFORMED', `put_data: offset must be from 0 to 2^53-1, got ${fileOffset}`);
  }
  target[offset] = MESSAGE_TYPE_CODES.PUT_DATA;
  target.writeUInt32BE(ref, offset + 1);
  target.writeUInt32BE(Math.floor(fileOffset / 2 ** 32), offset + 5);
  target.writeUInt32BE(fileOffset % 2 ** 32, offset + 9);
  return PUT_DATA_HEADER_BYTES;
}

function start(bodyLength: number, message: Message): MessageWriter {
  return new MessageWriter(1 + bodyLength, message.type.toLowerCase()).u8(
    MESSAGE_TYPE_CODES[message.type],
    'type',
  );
}

function hex(value: number): string {
  return value.toString(16).padStart(2, '0');
}
