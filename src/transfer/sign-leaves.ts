import {
  DELTA_STRONG_BYTES,
  LEAF_BYTES,
  blockStrongHash,
  deltaBlockLength,
  MAX_DELTA_RECORD_BLOCKS,
  deltaBlockCount,
  leafHash,
  weakChecksum,
  type ChunkHashes,
  type DeltaBlocksMessage,
} from '../protocol/index.js';
import type { ChunkSource } from './chunk-source.js';

/** Bytes of the file read at once while signing: 64 leaves, so reads stay large and memory small. */
const SIGN_READ_BYTES = 64 * LEAF_BYTES;

/**
 * The signature of `source` as DELTA_BLOCKS records of `ref` (PROTOCOL.md §5.17.2, the records of §5.15.2),
 * each handed to `send` as soon as it is full, while every leaf hash goes into `hashes` (whose chunks are
 * leaves): the file is read once for the signature, its digest and the hash cache. An empty file has no
 * record.
 */
export async function signLeaves(
  source: ChunkSource,
  ref: number,
  hashes: ChunkHashes,
  send: (record: DeltaBlocksMessage) => Promise<void>,
): Promise<void> {
  if (hashes.chunkBytes !== LEAF_BYTES) throw new RangeError('a signature is taken over leaves');
  const size = source.size;
  const totalBlocks = deltaBlockCount(size);
  // Two buffers: the next piece is read (on libuv's pool) while this one is checksummed and hashed.
  const pieceBytes = Math.min(SIGN_READ_BYTES, Math.max(size, 1));
  const buffers = [Buffer.allocUnsafe(pieceBytes), Buffer.allocUnsafe(pieceBytes)];
  let turn = 0;
  const readPiece = (at: number): Promise<Buffer> => {
    const buffer = buffers[turn++ % 2]!;
    const n = Math.min(pieceBytes, size - at);
    const piece = source.readExactly(buffer, 0, n, at).then(() => buffer.subarray(0, n));
    // A read still running when the signing stops (the session ended) must not become an unhandled rejection.
    piece.catch(() => undefined);
    return piece;
  };
  let next = size > 0 ? readPiece(0) : undefined;
  for (let firstBlock = 0; firstBlock < totalBlocks; firstBlock += MAX_DELTA_RECORD_BLOCKS) {
    const count = Math.min(MAX_DELTA_RECORD_BLOCKS, totalBlocks - firstBlock);
    const weak = new Uint32Array(count);
    const strong = Buffer.alloc(count * DELTA_STRONG_BYTES);
    const start = firstBlock * LEAF_BYTES;
    const end = Math.min(size, (firstBlock + count) * LEAF_BYTES);
    for (let at = start; at < end; at += pieceBytes) {
      const piece = await next!;
      next = at + pieceBytes < size ? readPiece(at + pieceBytes) : undefined;
      for (let leafAt = 0; leafAt < piece.length; leafAt += LEAF_BYTES) {
        const leaf = piece.subarray(leafAt, Math.min(piece.length, leafAt + LEAF_BYTES));
        const block = (at + leafAt) / LEAF_BYTES;
        const hash = leafHash(leaf);
        hashes.set(block, hash);
        weak[block - firstBlock] = weakChecksum(leaf, 0, leaf.length);
        hash.copy(strong, (block - firstBlock) * DELTA_STRONG_BYTES, 0, DELTA_STRONG_BYTES);
      }
    }
    await send({
      type: 'DELTA_BLOCKS',
      ref,
      oldSize: size,
      blockBytes: LEAF_BYTES,
      firstBlock,
      weak,
      strong,
    });
  }
}

/**
 * The signature of `source` in blocks of `blockBytes` under one leaf (PROTOCOL.md §5.15.2, the size
 * `deltaBlockBytesFor` picks below 16 MiB, for a delta upload's old file and a delta download's file alike,
 * §5.17.2) as DELTA_BLOCKS records of `ref`, each handed to `send` as soon as it is full. The file is read a
 * leaf at a time; a block that spans two reads is gathered into a small buffer. With `leafHashes` (chunks of
 * one leaf) every leaf hash goes there too, so a download's digest and claim need no second read.
 */
export async function signBlocks(
  source: ChunkSource,
  ref: number,
  blockBytes: number,
  send: (record: DeltaBlocksMessage) => Promise<void>,
  leafHashes?: ChunkHashes,
): Promise<void> {
  if (leafHashes !== undefined && leafHashes.chunkBytes !== LEAF_BYTES)
    throw new RangeError('leaf hashes are kept in chunks of one leaf');
  const size = source.size;
  const totalBlocks = deltaBlockCount(size, blockBytes);
  const leaf = Buffer.allocUnsafe(Math.min(LEAF_BYTES, Math.max(size, 1)));
  const spanning = Buffer.allocUnsafe(blockBytes);
  let spanned = 0;
  let block = 0;
  let firstBlock = 0;
  let weak = new Uint32Array(Math.min(MAX_DELTA_RECORD_BLOCKS, totalBlocks));
  let strong = Buffer.alloc(weak.length * DELTA_STRONG_BYTES);
  const add = async (bytes: Buffer): Promise<void> => {
    weak[block - firstBlock] = weakChecksum(bytes, 0, bytes.length);
    blockStrongHash(bytes).copy(strong, (block - firstBlock) * DELTA_STRONG_BYTES);
    block++;
    if (block - firstBlock < weak.length) return;
    await send({ type: 'DELTA_BLOCKS', ref, oldSize: size, blockBytes, firstBlock, weak, strong });
    firstBlock = block;
    weak = new Uint32Array(Math.min(MAX_DELTA_RECORD_BLOCKS, totalBlocks - block));
    strong = Buffer.alloc(weak.length * DELTA_STRONG_BYTES);
  };
  for (let at = 0; at < size; at += LEAF_BYTES) {
    const piece = leaf.subarray(0, Math.min(LEAF_BYTES, size - at));
    await source.readExactly(piece, 0, piece.length, at);
    leafHashes?.set(at / LEAF_BYTES, leafHash(piece));
    for (let i = 0; i < piece.length;) {
      const want = deltaBlockLength(block, size, blockBytes) - spanned;
      const take = Math.min(want, piece.length - i);
      if (spanned === 0 && take === want) {
        await add(piece.subarray(i, i + take));
      } else {
        piece.copy(spanning, spanned, i, i + take);
        spanned += take;
        if (take === want) {
          await add(spanning.subarray(0, spanned));
          spanned = 0;
        }
      }
      i += take;
    }
  }
}
