import { Buffer } from 'node:buffer';
import {
  DEFAULT_CHUNK_BYTES,
  LIST_ENTRIES_HEADER_BYTES,
  MAX_ACCEPT_RANGES,
  MAX_BATCH_ENTRIES,
  MAX_BATCH_FILE_BYTES,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_COUNT,
  MAX_DETAIL_BYTES,
  MAX_GET_DATA_BYTES,
  MAX_LINK_TARGET_BYTES,
  MAX_LIST_ENTRIES,
  MAX_MESSAGE_BYTES,
  MAX_PATH_BYTES,
  MAX_PUT_DATA_BYTES,
  MIN_CHUNK_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  listEntryBytes,
  type ChunkRange,
  type ListEntry,
  type Message,
} from '../../src/protocol/index.js';

const MAX_U32 = 0xffffffff;
const MAX_U53 = Number.MAX_SAFE_INTEGER;

function filled(byte: number): Buffer {
  return Buffer.alloc(32, byte);
}

// A path of exactly MAX_PATH_BYTES bytes: 16 components of 255 bytes, separated by '/', then padding.
function longestPath(): string {
  const components = Array.from({ length: 16 }, (_, i) => String.fromCharCode(97 + i).repeat(255));
  const path = components.join('/');
  return `${path}/${'z'.repeat(MAX_PATH_BYTES - path.length - 1)}`;
}

function manyRanges(): ChunkRange[] {
  return Array.from({ length: MAX_ACCEPT_RANGES }, (_, i) => ({ first: i * 3, count: 2 }));
}

// A relative link target of exactly MAX_LINK_TARGET_BYTES bytes: `../` steps, then a name.
function longestTarget(): string {
  const up = '../'.repeat(1000);
  return `${up}${'t'.repeat(MAX_LINK_TARGET_BYTES - up.length)}`;
}

function entry(kind: ListEntry['kind'], path: string, linkTarget = ''): ListEntry {
  return {
    kind,
    mode: kind === 'dir' ? 0o755 : 0o644,
    size: 4096,
    mtimeMs: 1_700_000_000_000,
    path,
    linkTarget,
  };
}

/**
 * Entries that fill one LIST_ENTRIES message to exactly MAX_MESSAGE_BYTES: long paths, then one whose path
 * takes up the bytes left. Built with listEntryBytes, as a server packs them.
 */
export function packedEntries(): ListEntry[] {
  const entries: ListEntry[] = [];
  let used = LIST_ENTRIES_HEADER_BYTES;
  for (let i = 0; ; i++) {
    const next = entry(i % 2 === 0 ? 'file' : 'dir', `d/${String(i).padStart(4, '0')}/${'p'.repeat(4000)}`);
    if (used + listEntryBytes(next) + listEntryBytes(entry('file', 'x')) > MAX_MESSAGE_BYTES) break;
    entries.push(next);
    used += listEntryBytes(next);
  }
  const last = entry('file', 'x');
  last.path = 'x'.repeat(MAX_MESSAGE_BYTES - used - listEntryBytes(last) + 1);
  entries.push(last);
  return entries;
}

/** An offer that replaces a directory (REPLACE_DIR, PROTOCOL.md §5.3). */
const REPLACE_DIR_OFFER: Message = {
  type: 'PUT_OFFER',
  ref: 45,
  size: 3,
  mtimeMs: 1_700_000_000_000,
  chunkBytes: 1 << 22,
  mode: 0o644,
  overwrite: true,
  fresh: false,
  replaceDir: true,
  path: 'was-a-dir',
};

/** Valid messages of every type, boundary values included, shared by the round-trip and fuzz tests. */
export const SAMPLE_MESSAGES: readonly Message[] = [
  { type: 'ERROR', ref: 0, code: 0x0303, detail: '' },
  { type: 'ERROR', ref: MAX_U32, code: 0xffff, detail: 'chunk 3 hash mismatch: expected ab, got cd' },
  { type: 'ERROR', ref: 7, code: 0x7777, detail: 'é'.repeat(MAX_DETAIL_BYTES / 2) },
  { type: 'WELCOME', permissions: 0, maxFileBytes: 0 },
  { type: 'WELCOME', permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD, maxFileBytes: MAX_U53 },
  {
    type: 'PUT_OFFER',
    ref: 1,
    size: 0,
    mtimeMs: 0,
    chunkBytes: MIN_CHUNK_BYTES,
    mode: 0,
    overwrite: false,
    fresh: false,
    path: 'a',
  },
  {
    type: 'PUT_OFFER',
    ref: MAX_U32,
    size: MAX_U53,
    mtimeMs: MAX_U53,
    chunkBytes: MAX_CHUNK_BYTES,
    mode: 0o7777,
    overwrite: true,
    fresh: true,
    path: longestPath(),
  },
  {
    type: 'PUT_OFFER',
    ref: 42,
    size: MAX_CHUNK_COUNT * MIN_CHUNK_BYTES,
    mtimeMs: 1_700_000_000_123,
    chunkBytes: MIN_CHUNK_BYTES,
    mode: 0o644,
    overwrite: true,
    fresh: false,
    path: 'photos/été 2024/日本 🗻.jpg',
  },
  {
    type: 'PUT_OFFER',
    ref: 44,
    size: 3 << 20,
    mtimeMs: 1_700_000_000_000,
    chunkBytes: 1 << 22,
    mode: 0o644,
    overwrite: true,
    fresh: false,
    delta: true,
    path: 'vm.img',
  },
  REPLACE_DIR_OFFER,
  { ...REPLACE_DIR_OFFER, ref: 46, notUtf8: true },
  {
    type: 'PUT_OFFER',
    ref: 43,
    size: 1 << 30,
    mtimeMs: 1_700_000_000_000,
    chunkBytes: 1 << 22,
    mode: 0o600,
    overwrite: false,
    fresh: false,
    join: filled(0x6a).subarray(0, 16),
    path: 'big/stream.bin',
  },
  { type: 'ACK', ref: 1 },
  { type: 'ACK', ref: MAX_U32 },
  { type: 'CANCEL', ref: 1 },
  { type: 'CANCEL', ref: MAX_U32 },
  { type: 'KEEPALIVE' },
  {
    type: 'PUT_ACCEPT',
    ref: 1,
    restarted: false,
    existing: false,
    haveDigest: Buffer.alloc(32),
    joinToken: Buffer.alloc(16),
    ranges: [],
  },
  {
    type: 'PUT_ACCEPT',
    ref: 44,
    restarted: false,
    existing: false,
    delta: true,
    haveDigest: Buffer.alloc(32),
    joinToken: Buffer.alloc(16, 9),
    ranges: [],
  },
  {
    type: 'PUT_ACCEPT',
    ref: 9,
    restarted: true,
    existing: false,
    haveDigest: filled(0xab),
    joinToken: filled(0x11).subarray(0, 16),
    ranges: [
      { first: 0, count: 1 },
      { first: 1, count: 5 },
      { first: MAX_CHUNK_COUNT - 1, count: 1 },
    ],
  },
  {
    type: 'PUT_ACCEPT',
    ref: 2,
    restarted: false,
    existing: false,
    haveDigest: filled(1),
    joinToken: filled(0x12).subarray(0, 16),
    ranges: manyRanges(),
  },
  {
    type: 'PUT_ACCEPT',
    ref: 4,
    restarted: true,
    existing: true,
    haveDigest: filled(0x44),
    joinToken: filled(0x13).subarray(0, 16),
    ranges: [{ first: 0, count: 3 }],
  },
  { type: 'PUT_DATA', ref: 1, offset: 0, data: Buffer.from([0]) },
  {
    type: 'PUT_DATA',
    ref: MAX_U32,
    offset: MAX_U53 - MAX_PUT_DATA_BYTES,
    data: Buffer.alloc(MAX_PUT_DATA_BYTES, 7),
  },
  { type: 'PUT_CHUNK', ref: 1, index: 0, chunkHash: filled(0x11) },
  { type: 'PUT_CHUNK', ref: MAX_U32, index: MAX_CHUNK_COUNT - 1, chunkHash: filled(0xff) },
  { type: 'PUT_END', ref: 3, fileDigest: filled(0x22) },
  { type: 'PUT_DONE', ref: 3, identical: false, fileDigest: filled(0x33) },
  { type: 'PUT_DONE', ref: 4, identical: false, part: true, fileDigest: Buffer.alloc(32) },
  { type: 'PUT_DONE', ref: MAX_U32, identical: true, fileDigest: filled(0x34) },
  { type: 'PROGRESS', ref: 3, verifiedBytes: 0 },
  { type: 'PROGRESS', ref: 3, verifiedBytes: MAX_U53 },
  { type: 'PUT_DIR', ref: 1, mode: 0, mtimeMs: 0, path: 'a' },
  { type: 'PUT_DIR', ref: MAX_U32, mode: 0o7777, mtimeMs: MAX_U53, path: longestPath() },
  { type: 'PUT_LINK', ref: 1, overwrite: false, mtimeMs: 0, target: 'b', path: 'a' },
  {
    type: 'PUT_LINK',
    ref: MAX_U32,
    overwrite: true,
    mtimeMs: MAX_U53,
    target: longestTarget(),
    path: longestPath(),
  },
  { type: 'PUT_LINK', ref: 8, overwrite: false, mtimeMs: 1, target: '../été/🗻', path: 'photos/latest' },
  { type: 'PUT_LINK', ref: 9, overwrite: true, replaceDir: true, mtimeMs: 1, target: 'x', path: 'was-a-dir' },
  {
    type: 'PUT_LINK',
    ref: 10,
    overwrite: true,
    replaceDir: true,
    notUtf8: true,
    mtimeMs: 1,
    target: 'x',
    path: 'was-a-dir',
  },
  // PROTOCOL.md §5.14: an empty file and a largest one with the longest path, in one record.
  {
    type: 'PUT_BATCH',
    ref: 3,
    overwrite: true,
    chunkBytes: MIN_CHUNK_BYTES,
    entries: [
      { size: 0, mtimeMs: 0, mode: 0, fileDigest: filled(1), path: 'a', data: Buffer.alloc(0) },
      {
        size: 5,
        mtimeMs: MAX_U53,
        mode: 0o7777,
        fileDigest: filled(2),
        path: 'b/ü',
        data: Buffer.from('hello'),
      },
    ],
  },
  {
    type: 'PUT_BATCH',
    ref: MAX_U32,
    overwrite: false,
    chunkBytes: MAX_CHUNK_BYTES,
    entries: [
      {
        size: MAX_BATCH_FILE_BYTES,
        mtimeMs: 1,
        mode: 0o644,
        fileDigest: filled(3),
        // The longest path an entry of MAX_BATCH_FILE_BYTES fits one record with: 4019 bytes.
        path: `${Array.from({ length: 15 }, () => 'd'.repeat(255)).join('/')}/${'x'.repeat(179)}`,
        data: Buffer.alloc(MAX_BATCH_FILE_BYTES, 7),
      },
    ],
  },
  {
    // The longest path leaves room for a little less than MAX_BATCH_FILE_BYTES in one record (§5.14).
    type: 'PUT_BATCH',
    ref: 2,
    overwrite: true,
    chunkBytes: MAX_CHUNK_BYTES,
    entries: [
      {
        size: MAX_BATCH_FILE_BYTES - 77,
        mtimeMs: 1,
        mode: 0o644,
        fileDigest: filled(3),
        path: longestPath(),
        data: Buffer.alloc(MAX_BATCH_FILE_BYTES - 77, 7),
      },
    ],
  },
  { type: 'BATCH_END', ref: 3, totalEntries: 1 },
  { type: 'BATCH_END', ref: MAX_U32, totalEntries: MAX_BATCH_ENTRIES },
  {
    type: 'BATCH_DONE',
    ref: 3,
    results: [{ status: 'placed' }, { status: 'identical' }, { status: 'refused', code: 0xffff }],
  },
  {
    type: 'DELTA_BLOCKS',
    ref: 4,
    oldSize: 3000,
    blockBytes: 1024,
    firstBlock: 1,
    weak: Uint32Array.from([0, 0xffffffff]),
    strong: Buffer.alloc(32, 0x5a),
  },
  {
    type: 'DELTA_BLOCKS',
    ref: MAX_U32,
    oldSize: 2 ** 34,
    blockBytes: 65_536,
    firstBlock: 2 ** 18 - 2048,
    weak: new Uint32Array(2048).fill(0x12345678),
    strong: Buffer.alloc(2048 * 16, 0xa5),
  },
  { type: 'PUT_COPY', ref: 4, offset: 0, oldOffset: 65_536, length: 1 },
  {
    type: 'PUT_COPY',
    ref: MAX_U32,
    offset: MAX_U53 - MAX_CHUNK_BYTES,
    oldOffset: 7,
    length: MAX_CHUNK_BYTES,
  },
  {
    type: 'GET_REQUEST',
    ref: 1,
    chunkBytes: MIN_CHUNK_BYTES,
    verifyOnly: false,
    heldSize: 0,
    haveDigest: Buffer.alloc(32),
    ranges: [],
    path: 'a',
  },
  {
    type: 'GET_REQUEST',
    ref: 6,
    chunkBytes: DEFAULT_CHUNK_BYTES,
    verifyOnly: false,
    heldSize: 10 * DEFAULT_CHUNK_BYTES + 1,
    haveDigest: filled(0x66),
    ranges: [
      { first: 0, count: 2 },
      { first: 5, count: 1 },
      { first: 10, count: 1 },
    ],
    path: 'photos/été 2024/日本 🗻.jpg',
  },
  {
    type: 'GET_REQUEST',
    ref: MAX_U32,
    chunkBytes: MIN_CHUNK_BYTES,
    verifyOnly: false,
    heldSize: MAX_CHUNK_COUNT * MIN_CHUNK_BYTES,
    haveDigest: filled(0x77),
    ranges: manyRanges(),
    path: longestPath(),
  },
  {
    type: 'GET_REQUEST',
    ref: 2,
    chunkBytes: MAX_CHUNK_BYTES,
    verifyOnly: false,
    heldSize: MAX_U53,
    haveDigest: filled(0x88),
    ranges: [
      { first: 0, count: 7 },
      { first: 7, count: Math.ceil(MAX_U53 / MAX_CHUNK_BYTES) - 7 },
    ],
    path: 'big',
  },
  {
    type: 'GET_REQUEST',
    ref: 3,
    chunkBytes: MIN_CHUNK_BYTES,
    verifyOnly: true,
    heldSize: 0,
    haveDigest: Buffer.alloc(32),
    ranges: [],
    path: 'empty',
  },
  { type: 'GET_OFFER', ref: 1, size: 0, mtimeMs: 0, mode: 0, heldAccepted: false },
  { type: 'GET_OFFER', ref: MAX_U32, size: MAX_U53, mtimeMs: MAX_U53, mode: 0o7777, heldAccepted: true },
  { type: 'GET_DATA', ref: 1, offset: 0, data: Buffer.from([0]) },
  {
    type: 'GET_DATA',
    ref: MAX_U32,
    offset: MAX_U53 - MAX_GET_DATA_BYTES,
    data: Buffer.alloc(MAX_GET_DATA_BYTES, 9),
  },
  { type: 'GET_CHUNK', ref: 1, index: 0, chunkHash: filled(0x12) },
  { type: 'GET_CHUNK', ref: MAX_U32, index: MAX_CHUNK_COUNT - 1, chunkHash: filled(0xfe) },
  { type: 'GET_END', ref: 3, fileDigest: filled(0x23) },
  { type: 'LIST_REQUEST', ref: 1, recursive: false, selfOnly: false, path: '' },
  { type: 'LIST_REQUEST', ref: MAX_U32, recursive: true, selfOnly: false, path: longestPath() },
  { type: 'LIST_REQUEST', ref: 2, recursive: false, selfOnly: false, namesOnly: true, path: 'a' },
  { type: 'LIST_ENTRIES', ref: 1, entries: [entry('file', 'a')] },
  {
    type: 'LIST_ENTRIES',
    ref: 5,
    entries: [
      entry('dir', 'photos'),
      entry('file', 'photos/été 2024/日本 🗻.jpg'),
      entry('link', 'photos/latest', '../été/🗻'),
      { kind: 'file', mode: 0, size: 0, mtimeMs: 0, path: 'z', linkTarget: '' },
      { kind: 'link', mode: 0o7777, size: MAX_U53, mtimeMs: MAX_U53, path: longestPath(), linkTarget: 'x' },
    ],
  },
  { type: 'LIST_ENTRIES', ref: MAX_U32, entries: packedEntries() },
  { type: 'LIST_END', ref: 1, totalEntries: 0, isFile: false, mode: 0o755, mtimeMs: 0 },
  {
    type: 'LIST_END',
    ref: MAX_U32,
    totalEntries: MAX_LIST_ENTRIES,
    isFile: true,
    mode: 0o7777,
    mtimeMs: Number.MAX_SAFE_INTEGER,
  },
  { type: 'KEY_COMMIT', commitment: filled(0x50) },
  { type: 'KEY_ROTATE', newKey: filled(0x51), nextCommitment: filled(0x52), proof: filled(0x53) },
  { type: 'REMOVE_REQUEST', ref: 1, path: 'a' },
  { type: 'REMOVE_REQUEST', ref: MAX_U32, notUtf8: true, path: longestPath() },
  { type: 'SET_ATTRIBUTES', ref: 1, mode: 0, mtimeMs: 0, path: 'a' },
  { type: 'SET_ATTRIBUTES', ref: MAX_U32, mode: 0o7777, mtimeMs: MAX_U53, path: longestPath() },
  { type: 'GET_BATCH', ref: 1, paths: ['a'] },
  { type: 'GET_BATCH', ref: MAX_U32, paths: ['d/é', 'x'.repeat(MAX_PATH_BYTES), ...Array(14).fill('f')] },
  { type: 'GET_BATCH', ref: 5, paths: Array.from({ length: MAX_BATCH_ENTRIES }, (_, i) => `f${i}`) },
  {
    type: 'GET_BATCH_DATA',
    ref: 6,
    entries: [
      { status: 'file', mtimeMs: MAX_U53, mode: 0o7777, fileDigest: filled(1), data: Buffer.from('hi') },
      { status: 'refused', code: 0xffff },
      { status: 'file', mtimeMs: 0, mode: 0, fileDigest: filled(2), data: Buffer.alloc(0) },
    ],
  },
  {
    // The largest entry: one record whatever the path (PROTOCOL.md §5.20).
    type: 'GET_BATCH_DATA',
    ref: MAX_U32,
    entries: [
      {
        status: 'file',
        mtimeMs: 1,
        mode: 0o644,
        fileDigest: filled(3),
        data: Buffer.alloc(MAX_BATCH_FILE_BYTES, 7),
      },
    ],
  },
  {
    type: 'GET_BATCH_DATA',
    ref: 8,
    entries: Array.from({ length: MAX_BATCH_ENTRIES }, () => ({ status: 'refused' as const, code: 1 })),
  },
];
