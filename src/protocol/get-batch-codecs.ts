import {
  GET_BATCH_DATA_HEADER_BYTES,
  GET_BATCH_HEADER_BYTES,
  HASH_BYTES,
  MAX_BATCH_ENTRIES,
  MAX_BATCH_FILE_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PATH_BYTES,
} from './constants.js';
import { checkFlags, startMessage, type MessageCodecTable } from './message-codec.js';
import { checkMode, checkRef } from './message-checks.js';
import type { GetBatchEntry } from './message-types.js';
import { encodeUtf8 } from './message-writer.js';
import { FerryError } from '../errors/index.js';

/** The fixed fields of a FILE entry of GET_BATCH_DATA: status, size, mtime, mode, digest (PROTOCOL.md §5.20). */
const FILE_ENTRY_FIXED_BYTES = 1 + 4 + 8 + 2 + HASH_BYTES;

/** A REFUSED entry of GET_BATCH_DATA: status and code (PROTOCOL.md §5.20). */
const REFUSED_ENTRY_BYTES = 1 + 2;

const ENTRY_STATUS = { file: 0, refused: 1 } as const;

/** The bytes one path takes in a GET_BATCH (PROTOCOL.md §5.20), for a client packing its request. */
export function getBatchPathBytes(path: string): number {
  return 2 + Buffer.byteLength(path, 'utf8');
}

/** The bytes one entry takes in a GET_BATCH_DATA (PROTOCOL.md §5.20), for a server packing records. */
export function getBatchEntryBytes(entry: GetBatchEntry): number {
  return entry.status === 'file' ? FILE_ENTRY_FIXED_BYTES + entry.data.length : REFUSED_ENTRY_BYTES;
}

// PROTOCOL.md §5.20: a request or an answer record holds 1..MAX_BATCH_ENTRIES paths or entries.
function checkCount(count: number, context: string): void {
  if (!Number.isInteger(count) || count < 1 || count > MAX_BATCH_ENTRIES)
    throw new FerryError('MESSAGE_MALFORMED', `${context}: ${count} entries, 1..${MAX_BATCH_ENTRIES}`);
}

/** PROTOCOL.md §5.20: a FILE entry is at most MAX_BATCH_FILE_BYTES, with valid mode bits. */
function checkFileEntry(entry: Extract<GetBatchEntry, { status: 'file' }>, index: number): void {
  const size = entry.data.length;
  if (size > MAX_BATCH_FILE_BYTES)
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `get_batch_data: entry ${index} size ${size}, limit ${MAX_BATCH_FILE_BYTES}`,
    );
  if (entry.fileDigest.length !== HASH_BYTES)
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `get_batch_data: entry ${index} digest of ${entry.fileDigest.length} bytes`,
    );
  checkMode(entry.mode, 'get_batch_data');
}

/** The codecs of a batched download (PROTOCOL.md §5.20). */
export const GET_BATCH_CODECS: MessageCodecTable<'GET_BATCH' | 'GET_BATCH_DATA'> = {
  GET_BATCH: {
    encode(message) {
      checkRef(message.ref, 'get_batch');
      checkCount(message.paths.length, 'get_batch');
      const paths = message.paths.map((path) => encodeUtf8(path, 'get_batch: path'));
      const length = paths.reduce((sum, path) => sum + 2 + path.length, GET_BATCH_HEADER_BYTES - 1);
      // One record (§5.20): the request is bounded by the record, as every message is.
      if (length + 1 > MAX_MESSAGE_BYTES)
        throw new FerryError(
          'MESSAGE_MALFORMED',
          `get_batch: ${length + 1} bytes, limit ${MAX_MESSAGE_BYTES}`,
        );
      const writer = startMessage('GET_BATCH', length)
        .u32(message.ref, 'ref')
        .u8(0, 'flags')
        .u16(paths.length, 'pathCount');
      for (const path of paths) writer.str(path, MAX_PATH_BYTES, 'path');
      return writer.finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const flags = r.u8('flags');
      const count = r.u16('pathCount');
      // PROTOCOL.md §5.20: no flag is defined yet; 1..MAX_BATCH_ENTRIES paths.
      checkFlags(r, flags, 0);
      checkRef(ref, 'get_batch');
      if (count === 0 || count > MAX_BATCH_ENTRIES) throw r.fail(`${count} paths, 1..${MAX_BATCH_ENTRIES}`);
      const paths: string[] = [];
      for (let i = 0; i < count; i++) paths.push(r.str(MAX_PATH_BYTES, 'path'));
      r.end();
      return { type: 'GET_BATCH', ref, paths };
    },
  },
  GET_BATCH_DATA: {
    encode(message) {
      checkRef(message.ref, 'get_batch_data');
      checkCount(message.entries.length, 'get_batch_data');
      let length = GET_BATCH_DATA_HEADER_BYTES - 1;
      message.entries.forEach((entry, index) => {
        if (entry.status === 'file') checkFileEntry(entry, index);
        else if (entry.code === 0)
          throw new FerryError('MESSAGE_MALFORMED', 'get_batch_data: a refused entry needs a non-zero code');
        length += getBatchEntryBytes(entry);
      });
      const writer = startMessage('GET_BATCH_DATA', length)
        .u32(message.ref, 'ref')
        .u16(message.entries.length, 'entryCount');
      for (const entry of message.entries) {
        if (entry.status === 'refused') {
          writer.u8(ENTRY_STATUS.refused, 'status').u16(entry.code, 'code');
          continue;
        }
        writer
          .u8(ENTRY_STATUS.file, 'status')
          .u32(entry.data.length, 'size')
          .u64(entry.mtimeMs, 'mtimeMs')
          .u16(entry.mode, 'mode')
          .fixed(entry.fileDigest, HASH_BYTES, 'fileDigest')
          .raw(entry.data);
      }
      return writer.finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const count = r.u16('entryCount');
      checkRef(ref, 'get_batch_data');
      if (count === 0 || count > MAX_BATCH_ENTRIES) throw r.fail(`${count} entries, 1..${MAX_BATCH_ENTRIES}`);
      const entries: GetBatchEntry[] = [];
      for (let index = 0; index < count; index++) {
        const status = r.u8('status');
        if (status === ENTRY_STATUS.refused) {
          const code = r.u16('code');
          if (code === 0) throw r.fail(`entry ${index} refused with code 0`);
          entries.push({ status: 'refused', code });
          continue;
        }
        if (status !== ENTRY_STATUS.file) throw r.fail(`entry ${index} status ${status}`);
        const size = r.u32('size');
        // Checked before the data is read: a size past the limit costs no copy.
        if (size > MAX_BATCH_FILE_BYTES)
          throw r.fail(`entry ${index} size ${size}, limit ${MAX_BATCH_FILE_BYTES}`);
        const mtimeMs = r.u64('mtimeMs');
        const mode = r.u16('mode');
        const fileDigest = r.copy(HASH_BYTES, 'fileDigest');
        const data = r.copy(size, 'data');
        const entry: GetBatchEntry = { status: 'file', mtimeMs, mode, fileDigest, data };
        checkFileEntry(entry, index);
        entries.push(entry);
      }
      r.end();
      return { type: 'GET_BATCH_DATA', ref, entries };
    },
  },
};
