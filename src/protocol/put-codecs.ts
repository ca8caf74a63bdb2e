import { FerryError } from '../errors/index.js';
import {
  HASH_BYTES,
  JOIN_TOKEN_BYTES,
  MAX_LINK_TARGET_BYTES,
  MAX_PATH_BYTES,
  PUT_ACCEPT_FLAG_DELTA,
  PUT_ACCEPT_FLAG_EXISTING,
  PUT_ACCEPT_FLAG_RESTARTED,
  PUT_DONE_FLAG_IDENTICAL,
  PUT_DONE_FLAG_PART,
  PUT_LINK_FLAG_NOT_UTF8,
  PUT_LINK_FLAG_OVERWRITE,
  PUT_LINK_FLAG_REPLACE_DIR,
  PUT_OFFER_FLAG_DELTA,
  PUT_OFFER_FLAG_FRESH,
  PUT_OFFER_FLAG_JOIN,
  PUT_OFFER_FLAG_NOT_UTF8,
  PUT_OFFER_FLAG_OVERWRITE,
  PUT_OFFER_FLAG_REPLACE_DIR,
} from './constants.js';
import {
  RANGE_BYTES,
  checkFlags,
  chunkCodec,
  dataCodec,
  endCodec,
  pathAttributesCodec,
  readRanges,
  startMessage,
  writeRanges,
  type MessageCodecTable,
} from './message-codec.js';
import { checkLinkTarget, checkOffer, checkRanges, checkRef } from './message-checks.js';
import type { PutOfferMessage } from './message-types.js';
import { encodeUtf8 } from './message-writer.js';

const KNOWN_OFFER_FLAGS =
  PUT_OFFER_FLAG_OVERWRITE |
  PUT_OFFER_FLAG_FRESH |
  PUT_OFFER_FLAG_JOIN |
  PUT_OFFER_FLAG_DELTA |
  PUT_OFFER_FLAG_REPLACE_DIR |
  PUT_OFFER_FLAG_NOT_UTF8;
const KNOWN_LINK_FLAGS = PUT_LINK_FLAG_OVERWRITE | PUT_LINK_FLAG_REPLACE_DIR | PUT_LINK_FLAG_NOT_UTF8;
const KNOWN_ACCEPT_FLAGS = PUT_ACCEPT_FLAG_RESTARTED | PUT_ACCEPT_FLAG_EXISTING | PUT_ACCEPT_FLAG_DELTA;

type PutType =
  | 'PUT_OFFER'
  | 'PUT_ACCEPT'
  | 'PUT_DATA'
  | 'PUT_CHUNK'
  | 'PUT_END'
  | 'PUT_DONE'
  | 'PROGRESS'
  | 'PUT_DIR'
  | 'PUT_LINK';

/** The codecs of the upload messages: files (PROTOCOL.md §5.3-§5.7) and directory entries (§5.10). */
export const PUT_CODECS: MessageCodecTable<PutType> = {
  PUT_OFFER: {
    encode(message) {
      checkOffer(message);
      if (message.join && (message.fresh || message.overwrite)) {
        throw new FerryError('MESSAGE_MALFORMED', 'put_offer: JOIN with other flags');
      }
      if (message.delta && !message.overwrite) {
        throw new FerryError('MESSAGE_MALFORMED', 'put_offer: DELTA without OVERWRITE');
      }
      if (message.replaceDir && (!message.overwrite || message.delta)) {
        throw new FerryError('MESSAGE_MALFORMED', 'put_offer: REPLACE_DIR without OVERWRITE or with DELTA');
      }
      if (message.notUtf8 && !message.replaceDir) {
        throw new FerryError('MESSAGE_MALFORMED', 'put_offer: NOT_UTF8 without REPLACE_DIR');
      }
      const path = encodeUtf8(message.path, 'put_offer: path');
      const join = message.join;
      const flags =
        (message.overwrite ? PUT_OFFER_FLAG_OVERWRITE : 0) |
        (message.fresh ? PUT_OFFER_FLAG_FRESH : 0) |
        (join ? PUT_OFFER_FLAG_JOIN : 0) |
        (message.delta ? PUT_OFFER_FLAG_DELTA : 0) |
        (message.replaceDir ? PUT_OFFER_FLAG_REPLACE_DIR : 0) |
        (message.notUtf8 ? PUT_OFFER_FLAG_NOT_UTF8 : 0);
      const writer = startMessage(
        'PUT_OFFER',
        4 + 8 + 8 + 4 + 2 + 1 + 2 + path.length + (join ? JOIN_TOKEN_BYTES : 0),
      )
        .u32(message.ref, 'ref')
        .u64(message.size, 'size')
        .u64(message.mtimeMs, 'mtimeMs')
        .u32(message.chunkBytes, 'chunkBytes')
        .u16(message.mode, 'mode')
        .u8(flags, 'flags')
        .str(path, MAX_PATH_BYTES, 'path');
      // PROTOCOL.md §5.3, §5.13.2: the join token follows the path, only with JOIN.
      if (join) writer.fixed(join, JOIN_TOKEN_BYTES, 'joinToken');
      return writer.finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const size = r.u64('size');
      const mtimeMs = r.u64('mtimeMs');
      const chunkBytes = r.u32('chunkBytes');
      const mode = r.u16('mode');
      const flags = r.u8('flags');
      const path = r.str(MAX_PATH_BYTES, 'path');
      // PROTOCOL.md §5.3: flag bits other than the six defined MUST be zero; JOIN goes alone.
      checkFlags(r, flags, KNOWN_OFFER_FLAGS);
      if ((flags & PUT_OFFER_FLAG_JOIN) !== 0 && flags !== PUT_OFFER_FLAG_JOIN)
        throw r.fail('JOIN with other flags');
      // PROTOCOL.md §5.15.1: DELTA asks how to replace a file, so it goes only with OVERWRITE.
      if ((flags & PUT_OFFER_FLAG_DELTA) !== 0 && (flags & PUT_OFFER_FLAG_OVERWRITE) === 0)
        throw r.fail('DELTA without OVERWRITE');
      // PROTOCOL.md §5.3: REPLACE_DIR widens OVERWRITE, so it goes only with it, and never asks for a delta.
      if (
        (flags & PUT_OFFER_FLAG_REPLACE_DIR) !== 0 &&
        ((flags & PUT_OFFER_FLAG_OVERWRITE) === 0 || (flags & PUT_OFFER_FLAG_DELTA) !== 0)
      )
        throw r.fail('REPLACE_DIR without OVERWRITE or with DELTA');
      // PROTOCOL.md §5.3: NOT_UTF8 says what a replaced directory's removal takes, so only with REPLACE_DIR.
      if ((flags & PUT_OFFER_FLAG_NOT_UTF8) !== 0 && (flags & PUT_OFFER_FLAG_REPLACE_DIR) === 0)
        throw r.fail('NOT_UTF8 without REPLACE_DIR');
      const join = (flags & PUT_OFFER_FLAG_JOIN) !== 0 ? r.copy(JOIN_TOKEN_BYTES, 'joinToken') : undefined;
      r.end();
      const message: PutOfferMessage = {
        type: 'PUT_OFFER',
        ref,
        size,
        mtimeMs,
        chunkBytes,
        mode,
        overwrite: (flags & PUT_OFFER_FLAG_OVERWRITE) !== 0,
        fresh: (flags & PUT_OFFER_FLAG_FRESH) !== 0,
        ...(join ? { join } : {}),
        ...((flags & PUT_OFFER_FLAG_DELTA) !== 0 ? { delta: true as const } : {}),
        ...((flags & PUT_OFFER_FLAG_REPLACE_DIR) !== 0 ? { replaceDir: true as const } : {}),
        ...((flags & PUT_OFFER_FLAG_NOT_UTF8) !== 0 ? { notUtf8: true as const } : {}),
        path,
      };
      checkOffer(message);
      return message;
    },
  },
  PUT_ACCEPT: {
    encode(message) {
      checkRef(message.ref, 'put_accept');
      checkRanges(message.ranges, 'put_accept');
      const flags =
        (message.restarted ? PUT_ACCEPT_FLAG_RESTARTED : 0) |
        (message.existing ? PUT_ACCEPT_FLAG_EXISTING : 0) |
        (message.delta ? PUT_ACCEPT_FLAG_DELTA : 0);
      if (message.delta && message.existing) {
        throw new FerryError('MESSAGE_MALFORMED', 'put_accept: DELTA with EXISTING');
      }
      const writer = startMessage(
        'PUT_ACCEPT',
        4 + 1 + HASH_BYTES + JOIN_TOKEN_BYTES + 2 + RANGE_BYTES * message.ranges.length,
      )
        .u32(message.ref, 'ref')
        .u8(flags, 'flags')
        .fixed(message.haveDigest, HASH_BYTES, 'haveDigest')
        .fixed(message.joinToken, JOIN_TOKEN_BYTES, 'joinToken');
      return writeRanges(writer, message.ranges).finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const flags = r.u8('flags');
      const haveDigest = r.copy(HASH_BYTES, 'haveDigest');
      const joinToken = r.copy(JOIN_TOKEN_BYTES, 'joinToken');
      const rangeCount = r.u16('rangeCount');
      // The ranges end the message: check the exact length before reading so a wrong one costs nothing.
      if (r.remaining !== rangeCount * RANGE_BYTES) {
        throw r.fail(`expected ${rangeCount * RANGE_BYTES} bytes of ranges, got ${r.remaining}`);
      }
      const ranges = readRanges(r, rangeCount);
      r.end();
      // PROTOCOL.md §5.4, §5.15.1: only RESTARTED, EXISTING and DELTA are defined; DELTA never with EXISTING.
      checkFlags(r, flags, KNOWN_ACCEPT_FLAGS);
      const delta = (flags & PUT_ACCEPT_FLAG_DELTA) !== 0;
      if (delta && (flags & PUT_ACCEPT_FLAG_EXISTING) !== 0) throw r.fail('DELTA with EXISTING');
      checkRef(ref, 'put_accept');
      checkRanges(ranges, 'put_accept');
      return {
        type: 'PUT_ACCEPT',
        ref,
        restarted: (flags & PUT_ACCEPT_FLAG_RESTARTED) !== 0,
        existing: (flags & PUT_ACCEPT_FLAG_EXISTING) !== 0,
        ...(delta ? { delta: true as const } : {}),
        haveDigest,
        joinToken,
        ranges,
      };
    },
  },
  PUT_DATA: dataCodec('PUT_DATA'),
  PUT_CHUNK: chunkCodec('PUT_CHUNK'),
  PUT_END: endCodec('PUT_END'),
  PUT_DONE: {
    encode(message) {
      checkRef(message.ref, 'put_done');
      return startMessage('PUT_DONE', 4 + 1 + HASH_BYTES)
        .u32(message.ref, 'ref')
        .u8(
          (message.identical ? PUT_DONE_FLAG_IDENTICAL : 0) | (message.part ? PUT_DONE_FLAG_PART : 0),
          'flags',
        )
        .fixed(message.fileDigest, HASH_BYTES, 'fileDigest')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const flags = r.u8('flags');
      const fileDigest = r.copy(HASH_BYTES, 'fileDigest');
      r.end();
      // PROTOCOL.md §5.6, §5.13: only IDENTICAL and PART are defined; other bits MUST be zero.
      checkFlags(r, flags, PUT_DONE_FLAG_IDENTICAL | PUT_DONE_FLAG_PART);
      checkRef(ref, 'put_done');
      return {
        type: 'PUT_DONE',
        ref,
        identical: (flags & PUT_DONE_FLAG_IDENTICAL) !== 0,
        ...((flags & PUT_DONE_FLAG_PART) !== 0 ? { part: true } : {}),
        fileDigest,
      };
    },
  },
  PROGRESS: {
    encode(message) {
      checkRef(message.ref, 'progress');
      return startMessage('PROGRESS', 4 + 8)
        .u32(message.ref, 'ref')
        .u64(message.verifiedBytes, 'verifiedBytes')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const verifiedBytes = r.u64('verifiedBytes');
      r.end();
      checkRef(ref, 'progress');
      return { type: 'PROGRESS', ref, verifiedBytes };
    },
  },
  PUT_DIR: pathAttributesCodec('PUT_DIR'),
  PUT_LINK: {
    encode(message) {
      checkRef(message.ref, 'put_link');
      checkLinkTarget(message.target, 'target', 'put_link');
      if (message.replaceDir && !message.overwrite)
        throw new FerryError('MESSAGE_MALFORMED', 'put_link: REPLACE_DIR without OVERWRITE');
      if (message.notUtf8 && !message.replaceDir)
        throw new FerryError('MESSAGE_MALFORMED', 'put_link: NOT_UTF8 without REPLACE_DIR');
      const target = encodeUtf8(message.target, 'put_link: target');
      const path = encodeUtf8(message.path, 'put_link: path');
      return startMessage('PUT_LINK', 4 + 1 + 8 + 2 + target.length + 2 + path.length)
        .u32(message.ref, 'ref')
        .u8(
          (message.overwrite ? PUT_LINK_FLAG_OVERWRITE : 0) |
            (message.replaceDir ? PUT_LINK_FLAG_REPLACE_DIR : 0) |
            (message.notUtf8 ? PUT_LINK_FLAG_NOT_UTF8 : 0),
          'flags',
        )
        .u64(message.mtimeMs, 'mtimeMs')
        .str(target, MAX_LINK_TARGET_BYTES, 'target')
        .str(path, MAX_PATH_BYTES, 'path')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const flags = r.u8('flags');
      const mtimeMs = r.u64('mtimeMs');
      const target = r.str(MAX_LINK_TARGET_BYTES, 'target');
      const path = r.str(MAX_PATH_BYTES, 'path');
      r.end();
      // PROTOCOL.md §5.10: only OVERWRITE, REPLACE_DIR and NOT_UTF8 are defined, REPLACE_DIR only with
      // OVERWRITE, NOT_UTF8 only with REPLACE_DIR.
      checkFlags(r, flags, KNOWN_LINK_FLAGS);
      if ((flags & PUT_LINK_FLAG_REPLACE_DIR) !== 0 && (flags & PUT_LINK_FLAG_OVERWRITE) === 0)
        throw r.fail('REPLACE_DIR without OVERWRITE');
      if ((flags & PUT_LINK_FLAG_NOT_UTF8) !== 0 && (flags & PUT_LINK_FLAG_REPLACE_DIR) === 0)
        throw r.fail('NOT_UTF8 without REPLACE_DIR');
      checkRef(ref, 'put_link');
      checkLinkTarget(target, 'target', 'put_link');
      return {
        type: 'PUT_LINK',
        ref,
        overwrite: (flags & PUT_LINK_FLAG_OVERWRITE) !== 0,
        ...((flags & PUT_LINK_FLAG_REPLACE_DIR) !== 0 ? { replaceDir: true as const } : {}),
        ...((flags & PUT_LINK_FLAG_NOT_UTF8) !== 0 ? { notUtf8: true as const } : {}),
        mtimeMs,
        target,
        path,
      };
    },
  },
};
