import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';
import type { ChunkRange } from './chunk-ranges.js';
import {
  HASH_BYTES,
  MAX_ACCEPT_RANGES,
  MAX_MESSAGE_BYTES,
  MAX_PATH_BYTES,
  PUT_DATA_HEADER_BYTES,
} from './constants.js';
import { checkChunkIndex, checkDataEnd, checkMode, checkRef } from './message-checks.js';
import type { MessageReader } from './message-reader.js';
import {
  MESSAGE_TYPE_CODES,
  type AckMessage,
  type CancelMessage,
  type GetChunkMessage,
  type GetDataMessage,
  type GetEndMessage,
  type MessageOfType,
  type MessageType,
  type PutChunkMessage,
  type PutDataMessage,
  type PutDirMessage,
  type PutEndMessage,
  type SetAttributesMessage,
} from './message-types.js';
import { MessageWriter, encodeUtf8 } from './message-writer.js';

/**
 * How one message type is written and read (PROTOCOL.md §5). The two halves sit side by side so that they
 * check the same rules: `encode` refuses (MESSAGE_MALFORMED) exactly what `decode` refuses.
 */
export interface MessageCodec<M> {
  /** Writes the whole message, type byte first. */
  encode(message: M): Buffer;
  /** Reads the body after the type byte from `r`, which names the message in its errors. */
  decode(r: MessageReader): M;
}

/** A codec for each of the message types `T`; the families are merged into one table in messages.ts. */
export type MessageCodecTable<T extends MessageType> = { readonly [K in T]: MessageCodec<MessageOfType<K>> };

/** Bytes of one `(u32 firstChunk, u32 chunkCount)` range (PROTOCOL.md §5). */
export const RANGE_BYTES = 8;

/** Starts a message of type `type` whose body is exactly `bodyLength` bytes, its type byte written. */
export function startMessage(type: MessageType, bodyLength: number): MessageWriter {
  return new MessageWriter(1 + bodyLength, type.toLowerCase()).u8(MESSAGE_TYPE_CODES[type], 'type');
}

/** Refuses a flag byte with bits outside `known` set: reserved bits MUST be zero (PROTOCOL.md §5). */
export function checkFlags(r: MessageReader, flags: number, known: number): void {
  if ((flags & ~known) !== 0) throw r.fail(`reserved flag bits set in 0x${hex(flags)}`);
}

/** Two lower-case hex digits (or more for larger values), for error details. */
export function hex(value: number): string {
  return value.toString(16).padStart(2, '0');
}

/**
 * Reads `rangeCount` ranges. The count is checked against the limit and the bytes left before anything is
 * allocated, so a lying count costs nothing; order and overlap are checkRanges' job.
 */
export function readRanges(r: MessageReader, rangeCount: number): ChunkRange[] {
  if (rangeCount > MAX_ACCEPT_RANGES) throw r.fail(`${rangeCount} ranges, limit ${MAX_ACCEPT_RANGES}`);
  if (r.remaining < rangeCount * RANGE_BYTES) {
    throw r.fail(`expected ${rangeCount * RANGE_BYTES} bytes of ranges, got ${r.remaining}`);
  }
  const ranges: ChunkRange[] = [];
  for (let i = 0; i < rangeCount; i++)
    ranges.push({ first: r.u32('firstChunk'), count: r.u32('chunkCount') });
  return ranges;
}

/** Writes `u16 rangeCount` and the ranges. */
export function writeRanges(writer: MessageWriter, ranges: readonly ChunkRange[]): MessageWriter {
  writer.u16(ranges.length, 'rangeCount');
  for (const range of ranges) writer.u32(range.first, 'firstChunk').u32(range.count, 'chunkCount');
  return writer;
}

/**
 * Writes the 13-byte header shared by PUT_DATA and GET_DATA (type, ref, file offset) into `target` at
 * `offset` and returns its length (PROTOCOL.md §5).
 */
export function writeDataHeader(
  type: 'PUT_DATA' | 'GET_DATA',
  target: Buffer,
  offset: number,
  ref: number,
  fileOffset: number,
): number {
  const context = type.toLowerCase();
  if (!Number.isInteger(offset) || offset < 0 || offset + PUT_DATA_HEADER_BYTES > target.length) {
    throw new FerryError(
      'INTERNAL',
      `${context} header at ${offset} does not fit a ${target.length}-byte buffer`,
    );
  }
  checkRef(ref, context);
  if (!Number.isSafeInteger(fileOffset) || fileOffset < 0) {
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `${context}: offset must be from 0 to 2^53-1, got ${fileOffset}`,
    );
  }
  target[offset] = MESSAGE_TYPE_CODES[type];
  target.writeUInt32BE(ref, offset + 1);
  target.writeUInt32BE(Math.floor(fileOffset / 2 ** 32), offset + 5);
  target.writeUInt32BE(fileOffset % 2 ** 32, offset + 9);
  return PUT_DATA_HEADER_BYTES;
}

// The codecs below serve two message types each whose layouts are the same: an upload message and its
// download mirror (PROTOCOL.md §5.11.2), or ACK and CANCEL. The overloads give each its own message type.

/**
 * The codec of `u32 ref`, `u16 mode`, `u64 mtimeMs`, `str path` (PUT_DIR §5.10, SET_ATTRIBUTES §5.19). The
 * mode is permission bits only, as PUT_OFFER's (§5.3; the server narrows them further). SET_ATTRIBUTES names a
 * file, never the client's root, so its empty path is malformed; PUT_DIR's '' is the root itself.
 */
export function pathAttributesCodec(type: 'PUT_DIR'): MessageCodec<PutDirMessage>;
export function pathAttributesCodec(type: 'SET_ATTRIBUTES'): MessageCodec<SetAttributesMessage>;
export function pathAttributesCodec(
  type: 'PUT_DIR' | 'SET_ATTRIBUTES',
): MessageCodec<PutDirMessage | SetAttributesMessage> {
  const context = type.toLowerCase();
  const rootAllowed = type === 'PUT_DIR';
  return {
    encode(message) {
      checkRef(message.ref, context);
      checkMode(message.mode, context);
      if (!rootAllowed && message.path === '')
        throw new FerryError('MESSAGE_MALFORMED', `${context}: empty path`);
      const path = encodeUtf8(message.path, `${context}: path`);
      return startMessage(type, 4 + 2 + 8 + 2 + path.length)
        .u32(message.ref, 'ref')
        .u16(message.mode, 'mode')
        .u64(message.mtimeMs, 'mtimeMs')
        .str(path, MAX_PATH_BYTES, 'path')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const mode = r.u16('mode');
      const mtimeMs = r.u64('mtimeMs');
      const path = r.str(MAX_PATH_BYTES, 'path');
      r.end();
      checkRef(ref, context);
      checkMode(mode, context);
      if (!rootAllowed && path === '') throw r.fail('empty path');
      return { type, ref, mode, mtimeMs, path };
    },
  };
}

/** The codec of a message that is only `u32 ref` (ACK, CANCEL). */
export function refCodec(type: 'ACK'): MessageCodec<AckMessage>;
export function refCodec(type: 'CANCEL'): MessageCodec<CancelMessage>;
export function refCodec(type: 'ACK' | 'CANCEL'): MessageCodec<AckMessage | CancelMessage> {
  const context = type.toLowerCase();
  return {
    encode(message) {
      checkRef(message.ref, context);
      return startMessage(type, 4).u32(message.ref, 'ref').finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      r.end();
      checkRef(ref, context);
      return { type, ref };
    },
  };
}

/**
 * The codec of PUT_DATA or GET_DATA: `u32 ref`, `u64 offset`, then data to the end of the message (at least
 * 1 byte). Decoded data is a view of the input, never a copy: this is the hot path.
 */
export function dataCodec(type: 'PUT_DATA'): MessageCodec<PutDataMessage>;
export function dataCodec(type: 'GET_DATA'): MessageCodec<GetDataMessage>;
export function dataCodec(type: 'PUT_DATA' | 'GET_DATA'): MessageCodec<PutDataMessage | GetDataMessage> {
  const context = type.toLowerCase();
  const maxDataBytes = MAX_MESSAGE_BYTES - PUT_DATA_HEADER_BYTES;
  return {
    encode(message) {
      const { data } = message;
      if (data.length < 1 || data.length > maxDataBytes) {
        throw new FerryError(
          'MESSAGE_MALFORMED',
          `${context}: data must be 1 to ${maxDataBytes} bytes, got ${data.length}`,
        );
      }
      checkDataEnd(message.offset, data.length, context);
      const bytes = Buffer.allocUnsafe(PUT_DATA_HEADER_BYTES + data.length);
      writeDataHeader(type, bytes, 0, message.ref, message.offset);
      bytes.set(data, PUT_DATA_HEADER_BYTES);
      return bytes;
    },
    decode(r) {
      const ref = r.u32('ref');
      const offset = r.u64('offset');
      const data = r.rest();
      // PROTOCOL.md §5: data is the rest of the message, at least 1 byte.
      if (data.length === 0) throw r.fail('no data bytes');
      checkRef(ref, context);
      checkDataEnd(offset, data.length, context);
      return { type, ref, offset, data };
    },
  };
}

/** The codec of PUT_CHUNK or GET_CHUNK: `u32 ref`, `u32 index`, `b32 chunkHash` (PROTOCOL.md §5.5.2). */
export function chunkCodec(type: 'PUT_CHUNK'): MessageCodec<PutChunkMessage>;
export function chunkCodec(type: 'GET_CHUNK'): MessageCodec<GetChunkMessage>;
export function chunkCodec(type: 'PUT_CHUNK' | 'GET_CHUNK'): MessageCodec<PutChunkMessage | GetChunkMessage> {
  const context = type.toLowerCase();
  return {
    encode(message) {
      checkRef(message.ref, context);
      checkChunkIndex(message.index, context);
      return startMessage(type, 4 + 4 + HASH_BYTES)
        .u32(message.ref, 'ref')
        .u32(message.index, 'index')
        .fixed(message.chunkHash, HASH_BYTES, 'chunkHash')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const index = r.u32('index');
      const chunkHash = r.copy(HASH_BYTES, 'chunkHash');
      r.end();
      checkRef(ref, context);
      checkChunkIndex(index, context);
      return { type, ref, index, chunkHash };
    },
  };
}

/** The codec of PUT_END or GET_END: `u32 ref`, `b32 fileDigest` (PROTOCOL.md §5.6, §5.11.2). */
export function endCodec(type: 'PUT_END'): MessageCodec<PutEndMessage>;
export function endCodec(type: 'GET_END'): MessageCodec<GetEndMessage>;
export function endCodec(type: 'PUT_END' | 'GET_END'): MessageCodec<PutEndMessage | GetEndMessage> {
  const context = type.toLowerCase();
  return {
    encode(message) {
      checkRef(message.ref, context);
      return startMessage(type, 4 + HASH_BYTES)
        .u32(message.ref, 'ref')
        .fixed(message.fileDigest, HASH_BYTES, 'fileDigest')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const fileDigest = r.copy(HASH_BYTES, 'fileDigest');
      r.end();
      checkRef(ref, context);
      return { type, ref, fileDigest };
    },
  };
}
