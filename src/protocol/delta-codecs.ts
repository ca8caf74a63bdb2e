import { Buffer } from 'node:buffer';
import { MAX_CHUNK_BYTES } from './constants.js';
import {
  DELTA_STRONG_BYTES,
  MAX_DELTA_BLOCKS,
  MAX_DELTA_RECORD_BLOCKS,
  deltaBlockCount,
  isDeltaBlockBytes,
} from './delta-signature.js';
import { startMessage, type MessageCodecTable } from './message-codec.js';
import { checkDataEnd, checkRef } from './message-checks.js';
import type { DeltaBlocksMessage, PutCopyMessage } from './message-types.js';
import { FerryError } from '../errors/index.js';

/** Checks the block numbers of a DELTA_BLOCKS (PROTOCOL.md §5.15.2), on both sides of the codec. */
function checkSignatureRecord(message: DeltaBlocksMessage, fail: (detail: string) => FerryError): void {
  const count = message.weak.length;
  if (!isDeltaBlockBytes(message.blockBytes))
    throw fail('blockBytes must be a multiple of 64, 1 KiB to 64 KiB');
  const totalBlocks = deltaBlockCount(message.oldSize, message.blockBytes);
  if (totalBlocks < 1 || totalBlocks > MAX_DELTA_BLOCKS) throw fail('oldSize out of range');
  if (count < 1 || count > MAX_DELTA_RECORD_BLOCKS)
    throw fail(`1 to ${MAX_DELTA_RECORD_BLOCKS} blocks a record`);
  if (message.firstBlock + count > totalBlocks) throw fail('blocks past the old file');
  if (message.strong.length !== count * DELTA_STRONG_BYTES)
    throw fail('strong hashes do not match the count');
}

/** Checks a PUT_COPY's fields (PROTOCOL.md §5.15.3); whether it fits the chunk and the old file is the receiver's. */
function checkCopy(message: PutCopyMessage, fail: (detail: string) => FerryError): void {
  if (!Number.isInteger(message.length) || message.length < 1 || message.length > MAX_CHUNK_BYTES) {
    throw fail('length must be 1 to 2^26');
  }
  checkDataEnd(message.offset, message.length, 'put_copy');
  checkDataEnd(message.oldOffset, message.length, 'put_copy');
}

const malformed = (context: string) => (detail: string) =>
  new FerryError('MESSAGE_MALFORMED', `${context}: ${detail}`);

/** The codecs of a delta upload (PROTOCOL.md §5.15): the old file's signature, and copies from it. */
export const DELTA_CODECS: MessageCodecTable<'DELTA_BLOCKS' | 'PUT_COPY'> = {
  DELTA_BLOCKS: {
    encode(message) {
      checkRef(message.ref, 'delta_blocks');
      checkSignatureRecord(message, malformed('delta_blocks'));
      const count = message.weak.length;
      const writer = startMessage('DELTA_BLOCKS', 4 + 8 + 4 + 4 + 2 + count * (4 + DELTA_STRONG_BYTES))
        .u32(message.ref, 'ref')
        .u64(message.oldSize, 'oldSize')
        .u32(message.blockBytes, 'blockBytes')
        .u32(message.firstBlock, 'firstBlock')
        .u16(count, 'count');
      for (let i = 0; i < count; i++) {
        writer
          .u32(message.weak[i]!, 'weak')
          .fixed(
            message.strong.subarray(i * DELTA_STRONG_BYTES, (i + 1) * DELTA_STRONG_BYTES),
            DELTA_STRONG_BYTES,
            'strong',
          );
      }
      return writer.finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const oldSize = r.u64('oldSize');
      const blockBytes = r.u32('blockBytes');
      const firstBlock = r.u32('firstBlock');
      const count = r.u16('count');
      if (count < 1 || count > MAX_DELTA_RECORD_BLOCKS)
        throw r.fail(`1 to ${MAX_DELTA_RECORD_BLOCKS} blocks a record`);
      const weak = new Uint32Array(count);
      const strong = Buffer.alloc(count * DELTA_STRONG_BYTES);
      for (let i = 0; i < count; i++) {
        weak[i] = r.u32('weak');
        r.copy(DELTA_STRONG_BYTES, 'strong').copy(strong, i * DELTA_STRONG_BYTES);
      }
      r.end();
      checkRef(ref, 'delta_blocks');
      const message: DeltaBlocksMessage = {
        type: 'DELTA_BLOCKS',
        ref,
        oldSize,
        blockBytes,
        firstBlock,
        weak,
        strong,
      };
      checkSignatureRecord(message, (detail) => r.fail(detail));
      return message;
    },
  },
  PUT_COPY: {
    encode(message) {
      checkRef(message.ref, 'put_copy');
      checkCopy(message, malformed('put_copy'));
      return startMessage('PUT_COPY', 4 + 8 + 8 + 4)
        .u32(message.ref, 'ref')
        .u64(message.offset, 'offset')
        .u64(message.oldOffset, 'oldOffset')
        .u32(message.length, 'length')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const offset = r.u64('offset');
      const oldOffset = r.u64('oldOffset');
      const length = r.u32('length');
      r.end();
      checkRef(ref, 'put_copy');
      const message: PutCopyMessage = { type: 'PUT_COPY', ref, offset, oldOffset, length };
      checkCopy(message, (detail) => r.fail(detail));
      return message;
    },
  },
};
