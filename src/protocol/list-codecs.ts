import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';
import {
  LIST_ENTRIES_HEADER_BYTES,
  LIST_FLAG_RECURSIVE,
  LIST_FLAG_SELF_ONLY,
  LIST_FLAG_NAMES_ONLY,
  LIST_END_FLAG_IS_FILE,
  MAX_LINK_TARGET_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PATH_BYTES,
} from './constants.js';
import { checkFlags, startMessage, type MessageCodecTable } from './message-codec.js';
import { checkListEntry, checkMode, checkRef, checkTotalEntries } from './message-checks.js';
import type { ListEntry, ListEntryKind } from './message-types.js';
import { encodeUtf8 } from './message-writer.js';

// PROTOCOL.md §5.12: `u8 kind` is 1 file, 2 directory, 3 symbolic link.
const KIND_CODES: Readonly<Record<ListEntryKind, number>> = { file: 1, dir: 2, link: 3 };
const KINDS_BY_CODE: readonly (ListEntryKind | undefined)[] = [undefined, 'file', 'dir', 'link'];

// u8 kind, u16 mode, u64 size, u64 mtimeMs, then the two u16 string lengths.
const ENTRY_FIXED_BYTES = 1 + 2 + 8 + 8 + 2 + 2;
// The smallest entry: a 1-byte path and no link target. Lets a decoder refuse a lying count up front.
const MIN_ENTRY_BYTES = ENTRY_FIXED_BYTES + 1;

/**
 * The encoded size in bytes of one LIST_ENTRIES entry (PROTOCOL.md §5.12). A server packs entries while
 * LIST_ENTRIES_HEADER_BYTES plus the sum of their sizes stays within MAX_MESSAGE_BYTES.
 */
export function listEntryBytes(entry: ListEntry): number {
  return (
    ENTRY_FIXED_BYTES + Buffer.byteLength(entry.path, 'utf8') + Buffer.byteLength(entry.linkTarget, 'utf8')
  );
}

/** The codecs of a listing (PROTOCOL.md §5.12). */
export const LIST_CODECS: MessageCodecTable<'LIST_REQUEST' | 'LIST_ENTRIES' | 'LIST_END'> = {
  LIST_REQUEST: {
    encode(message) {
      checkRef(message.ref, 'list_request');
      // PROTOCOL.md §5.12: '' names the client's root, so an empty path is valid here.
      const path = encodeUtf8(message.path, 'list_request: path');
      return startMessage('LIST_REQUEST', 4 + 1 + 2 + path.length)
        .u32(message.ref, 'ref')
        .u8(
          (message.recursive ? LIST_FLAG_RECURSIVE : 0) |
            (message.selfOnly ? LIST_FLAG_SELF_ONLY : 0) |
            (message.namesOnly === true ? LIST_FLAG_NAMES_ONLY : 0),
          'flags',
        )
        .str(path, MAX_PATH_BYTES, 'path')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const flags = r.u8('flags');
      const path = r.str(MAX_PATH_BYTES, 'path');
      r.end();
      // PROTOCOL.md §5.12: only RECURSIVE, SELF_ONLY and NAMES_ONLY are defined.
      checkFlags(r, flags, LIST_FLAG_RECURSIVE | LIST_FLAG_SELF_ONLY | LIST_FLAG_NAMES_ONLY);
      checkRef(ref, 'list_request');
      return {
        type: 'LIST_REQUEST',
        ref,
        recursive: (flags & LIST_FLAG_RECURSIVE) !== 0,
        selfOnly: (flags & LIST_FLAG_SELF_ONLY) !== 0,
        // Present only when set, so a request decodes to what its sender built (the field is optional).
        ...((flags & LIST_FLAG_NAMES_ONLY) !== 0 ? { namesOnly: true } : {}),
        path,
      };
    },
  },
  LIST_ENTRIES: {
    encode(message) {
      const { entries } = message;
      checkRef(message.ref, 'list_entries');
      if (entries.length === 0) throw new FerryError('MESSAGE_MALFORMED', 'list_entries: no entries');
      entries.forEach(checkListEntry);
      const encoded = entries.map((entry, i) => ({
        entry,
        path: encodeUtf8(entry.path, `list_entries: entry ${i} path`),
        linkTarget: encodeUtf8(entry.linkTarget, `list_entries: entry ${i} linkTarget`),
      }));
      let length = LIST_ENTRIES_HEADER_BYTES;
      for (const { path, linkTarget } of encoded)
        length += ENTRY_FIXED_BYTES + path.length + linkTarget.length;
      // Unlike data, entries cannot be split across records: the sender packs them (listEntryBytes).
      if (length > MAX_MESSAGE_BYTES) {
        throw new FerryError(
          'MESSAGE_MALFORMED',
          `list_entries: ${entries.length} entries need ${length} bytes, limit ${MAX_MESSAGE_BYTES}`,
        );
      }
      const writer = startMessage('LIST_ENTRIES', length - 1)
        .u32(message.ref, 'ref')
        .u16(entries.length, 'count');
      for (const { entry, path, linkTarget } of encoded) {
        writer
          .u8(KIND_CODES[entry.kind], 'kind')
          .u16(entry.mode, 'mode')
          .u64(entry.size, 'size')
          .u64(entry.mtimeMs, 'mtimeMs')
          .str(path, MAX_PATH_BYTES, 'path')
          .str(linkTarget, MAX_LINK_TARGET_BYTES, 'linkTarget');
      }
      return writer.finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const count = r.u16('count');
      // PROTOCOL.md §5.12: a LIST_ENTRIES carries at least one entry; an empty listing is LIST_END alone.
      if (count === 0) throw r.fail('no entries');
      if (r.remaining < count * MIN_ENTRY_BYTES) {
        throw r.fail(`${count} entries need at least ${count * MIN_ENTRY_BYTES} bytes, got ${r.remaining}`);
      }
      const entries: ListEntry[] = [];
      for (let i = 0; i < count; i++) {
        const kindCode = r.u8('kind');
        const kind = KINDS_BY_CODE[kindCode];
        if (kind === undefined) throw r.fail(`entry ${i} has unknown kind ${kindCode}`);
        entries.push({
          kind,
          mode: r.u16('mode'),
          size: r.u64('size'),
          mtimeMs: r.u64('mtimeMs'),
          path: r.str(MAX_PATH_BYTES, 'path'),
          linkTarget: r.str(MAX_LINK_TARGET_BYTES, 'linkTarget'),
        });
      }
      r.end();
      checkRef(ref, 'list_entries');
      entries.forEach(checkListEntry);
      return { type: 'LIST_ENTRIES', ref, entries };
    },
  },
  LIST_END: {
    encode(message) {
      checkRef(message.ref, 'list_end');
      checkTotalEntries(message.totalEntries);
      checkMode(message.mode, 'list_end: mode');
      return startMessage('LIST_END', 4 + 4 + 1 + 2 + 8)
        .u32(message.ref, 'ref')
        .u32(message.totalEntries, 'totalEntries')
        .u8(message.isFile ? LIST_END_FLAG_IS_FILE : 0, 'flags')
        .u16(message.mode, 'mode')
        .u64(message.mtimeMs, 'mtimeMs')
        .finish();
    },
    decode(r) {
      const ref = r.u32('ref');
      const totalEntries = r.u32('totalEntries');
      const flags = r.u8('flags');
      const mode = r.u16('mode');
      const mtimeMs = r.u64('mtimeMs');
      r.end();
      checkRef(ref, 'list_end');
      checkMode(mode, 'list_end: mode');
      checkTotalEntries(totalEntries);
      // PROTOCOL.md §5.12: reserved flag bits are zero.
      if ((flags & ~LIST_END_FLAG_IS_FILE) !== 0) throw r.fail(`unknown flags ${flags}`);
      return {
        type: 'LIST_END',
        ref,
        totalEntries,
        isFile: (flags & LIST_END_FLAG_IS_FILE) !== 0,
        mode,
        mtimeMs,
      };
    },
  },
};
