import { Buffer } from 'node:buffer';
import {
  MAX_ACCEPT_RANGES,
  MAX_CHUNK_BYTES,
  MAX_CHUNK_COUNT,
  MAX_DETAIL_BYTES,
  MAX_PATH_BYTES,
  MAX_PUT_DATA_BYTES,
  MIN_CHUNK_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  type ChunkRange,
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
  { type: 'PUT_ACCEPT', ref: 1, restarted: false, haveDigest: Buffer.alloc(32), ranges: [] },
  {
    type: 'PUT_ACCEPT',
    ref: 9,
    restarted: true,
    haveDigest: filled(0xab),
    ranges: [
      { first: 0, count: 1 },
      { first: 1, count: 5 },
      { first: MAX_CHUNK_COUNT - 1, count: 1 },
    ],
  },
  { type: 'PUT_ACCEPT', ref: 2, restarted: false, haveDigest: filled(1), ranges: manyRanges() },
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
  { type: 'PUT_DONE', ref: 3, fileDigest: filled(0x33) },
  { type: 'PROGRESS', ref: 3, verifiedBytes: 0 },
  { type: 'PROGRESS', ref: 3, verifiedBytes: MAX_U53 },
];
