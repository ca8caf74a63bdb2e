import {
  HASH_BYTES,
  MAX_BATCH_ENTRIES,
  MAX_BATCH_FILE_BYTES,
  MAX_PATH_BYTES,
  PUT_BATCH_FLAG_OVERWRITE,
  PUT_BATCH_HEADER_BYTES,
} from './constants.js';
import { checkFlags, startMessage, type MessageCodecTable } from './message-codec.js';
import { checkChunkBytes, checkMode, checkRef } from './message-checks.js';
import type { BatchEntry, BatchEntryResult } from './message-types.js';
import { encodeUtf8 } from './message-writer.js';
import { FerryError } from '../errors/index.js';

/** The fixed fields of one PUT_BATCH entry: size, mtime, mode, digest, path length (PROTOCOL.md §5.14). */
const ENTRY_FIXED_BYTES = 4 + 8 + 2 + HASH_BYTES + 2;

/** The bytes one entry takes in a PUT_BATCH (PROTOCOL.md §5.14), for a sender packing records. */
export function batchEntryBytes(entry: { size: number; path: string }): number {
  return ENTRY_FIXED_BYTES + Buffer.byteLength(entry.path, 'utf8') + entry.size;
}

const RESULT_STATUS = { placed: 0, identical: 1, refused: 2 } as const;

/** PROTOCOL.md §5.14: an entry's size is at most MAX_BATCH_FILE_BYTES and its chunk, mode bits valid. */
function checkEntry(entry: BatchEntry, chunkBytes: number, index: number): void {
  const fail = (detail: string): FerryError =>
    new FerryError('MESSAGE_MALFORMED', `put_batch: entry ${index} ${detail}`);
  if (!Number.isSafeInteger(entry.size) || entry.size < 0 || entry.size > MAX_BATCH_FILE_BYTES)
    throw fail(`size ${entry.size} outside 0..${MAX_BATCH_FILE_BYTES}`);
  // One chunk: the entry's digest is over one chunk hash (or none for an empty file, §5.5.4).
  if (entry.size > chunkBytes) throw fail(`size ${entry.size} exceeds chunkBytes ${chunkBytes}`);
  if (entry.data.length !== entry.size)
    throw fail(`has ${entry.data.length} bytes of data, size ${entry.size}`);
  checkMode(entry.mode, 'put_batch');
}

/** The codecs of the batch messages (PROTOCOL.md §5.14). */
export const BATCH_CODECS: MessageCodecTable<'PUT_BATCH' | 'BATCH_END' | 'BATCH_DONE'> = {
  PUT_BATCH: {
    encode(message) {
      checkRef(message.ref, 'put_batch');
      checkChunkBytes(message.chunkBytes, 'put_batch');
      const { entries } = message;
      if (entries.length === 0 || entries.length > MAX_BATCH_ENTRIES)
        throw new FerryError(
          'MESSAGE_MALFORMED',
          `put_batch: ${entries.length} entries, 1..${MAX_BATCH_ENTRIES}`,
        );
      const paths = entries.map((entry, index) => {
        checkEntry(entry, message.chunkBytes, index);
        return encodeUtf8(entry.path, 'put_batch: path');
      });
      let length = PUT_BATCH_HEADER_BYTES - 1;
      for (let i = 0; i < entries.length; i++)
        length += ENTRY_FIXED_BYTES + paths[i]!.length + entries[i]!.size;
      const writer = startMessage('PUT_BATCH', length)
        .u32(message.ref, 'ref')
        .u8(message.overwrite ? PUT_BATCH_FLAG_OVERWRITE : 0, 'flags')
        .u32(message.chunkBytes, 'chunkBytes')
        .u16(entries.length, 'entryCount');
      entries.forEach((entry, i) => {
        writer
          .u32(entry.size, 'size')
          .u64(entry.mtimeMs, 'mtimeMs')
          .u16(entry.mode, 'mode')
          .fixed(entry.fileDigest, HASH_BYTES, 'fileDigest')
          .str(paths[i]!, MAX_PATH_BYTES, 'path')
          .raw(entry.data);
      });
      return writer.finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const flags = r.u8('flags');
      const chunkBytes = r.u32('chunkBytes');
      const count = r.u16('entryCount');
      // PROTOCOL.md §5.14: only OVERWRITE is defined; at least one entry, at most MAX_BATCH_ENTRIES.
      checkFlags(r, flags, PUT_BATCH_FLAG_OVERWRITE);
      checkRef(ref, 'put_batch');
      checkChunkBytes(chunkBytes, 'put_batch');
      if (count === 0 || count > MAX_BATCH_ENTRIES) throw r.fail(`${count} entries, 1..${MAX_BATCH_ENTRIES}`);
      const entries: BatchEntry[] = [];
      for (let index = 0; index < count; index++) {
        const size = r.u32('size');
        // Checked before the data is read: a size past the limit costs no copy.
        if (size > MAX_BATCH_FILE_BYTES)
          throw r.fail(`entry ${index} size ${size}, limit ${MAX_BATCH_FILE_BYTES}`);
        const mtimeMs = r.u64('mtimeMs');
        const mode = r.u16('mode');
        const fileDigest = r.copy(HASH_BYTES, 'fileDigest');
        const path = r.str(MAX_PATH_BYTES, 'path');
        const data = r.copy(size, 'data');
        const entry: BatchEntry = { size, mtimeMs, mode, fileDigest, path, data };
        checkEntry(entry, chunkBytes, index);
        entries.push(entry);
      }
      r.end();
      return {
        type: 'PUT_BATCH',
        ref,
        overwrite: (flags & PUT_BATCH_FLAG_OVERWRITE) !== 0,
        chunkBytes,
        entries,
      };
    },
  },
  BATCH_END: {
    encode(message) {
      checkRef(message.ref, 'batch_end');
      checkTotal(message.totalEntries);
      return startMessage('BATCH_END', 4 + 4)
        .u32(message.ref, 'ref')
        .u32(message.totalEntries, 'totalEntries')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const totalEntries = r.u32('totalEntries');
      r.end();
      checkRef(ref, 'batch_end');
      checkTotal(totalEntries);
      return { type: 'BATCH_END', ref, totalEntries };
    },
  },
  BATCH_DONE: {
    encode(message) {
      checkRef(message.ref, 'batch_done');
      checkTotal(message.results.length);
      const writer = startMessage('BATCH_DONE', 4 + 2 + 3 * message.results.length)
        .u32(message.ref, 'ref')
        .u16(message.results.length, 'resultCount');
      for (const result of message.results) {
        const code = result.status === 'refused' ? result.code : 0;
        if (result.status === 'refused' && code === 0)
          throw new FerryError('MESSAGE_MALFORMED', 'batch_done: a refused entry needs a non-zero code');
        writer.u8(RESULT_STATUS[result.status], 'status').u16(code, 'code');
      }
      return writer.finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const count = r.u16('resultCount');
      checkRef(ref, 'batch_done');
      if (r.remaining !== 3 * count)
        throw r.fail(`expected ${3 * count} bytes of results, got ${r.remaining}`);
      checkTotal(count);
      const results: BatchEntryResult[] = [];
      for (let i = 0; i < count; i++) {
        const status = r.u8('status');
        const code = r.u16('code');
        // PROTOCOL.md §5.14: a code only with REFUSED, and then never 0.
        if (status === RESULT_STATUS.placed && code === 0) results.push({ status: 'placed' });
        else if (status === RESULT_STATUS.identical && code === 0) results.push({ status: 'identical' });
        else if (status === RESULT_STATUS.refused && code !== 0) results.push({ status: 'refused', code });
        else throw r.fail(`result ${i}: status ${status} with code ${code}`);
      }
      r.end();
      return { type: 'BATCH_DONE', ref, results };
    },
  },
};

// PROTOCOL.md §5.14: a batch has 1..MAX_BATCH_ENTRIES entries.
function checkTotal(total: number): void {
  if (!Number.isInteger(total) || total < 1 || total > MAX_BATCH_ENTRIES)
    throw new FerryError('MESSAGE_MALFORMED', `batch of ${total} entries, 1..${MAX_BATCH_ENTRIES}`);
}
