import {
  MAX_RECORD_BYTES,
  MESSAGE_TYPE_CODES,
  PUT_DATA_HEADER_BYTES,
  forgetLeafHashes,
  forgetOffThreadWriter,
} from '../protocol/index.js';

/**
 * Room in a receive block past its 16 full records: enough for the short record that ends a chunk (the
 * chunk's bytes past its full records: 1,920 for a 4 MiB chunk, at most 15,360 for chunks up to 32 MiB).
 */
const CHUNK_TAIL_BYTES = 16 * 1024;
/**
 * Bytes of a receive block: 32 full records (about 2 MiB) and a chunk's short last record
 * (`RECEIVE_BLOCK_RECORDS`).
 */
export const RECEIVE_BLOCK_BYTES = 32 * MAX_RECORD_BYTES + CHUNK_TAIL_BYTES;
/**
 * Records of a receive block at most: 32 full ones and a short one. A default 4 MiB chunk arrives as 64 full
 * records, a short one and its PUT_CHUNK (which closes the block, `pooled-opening.ts`): it goes to the workers
 * as two blocks (32, and 32 with the short one). A leaf split between two blocks is hashed on the event loop,
 * since neither worker holds all of it (a record carries 65,506 bytes of data, a leaf 65,536, so block
 * boundaries never fall on leaf boundaries): 1 of the chunk's 64 leaves, where blocks of 17 records (16 full)
 * split 3 and cost twice the hand-overs and results (issue 14: the pipeline case's main thread, measured
 * 0.53-0.66 -> 0.46-0.52 CPU s/GiB at 2 threads).
 */
export const RECEIVE_BLOCK_RECORDS = 33;
/**
 * Blocks kept for reuse, by every channel of the process: what the pool's workers hold and what the writer
 * still has queued (up to ~9 MiB: `BatchedWriter`), so a stream past its first few MiB allocates none, and a
 * session after another starts with blocks made. More are dropped as they come free. 16 MiB, as 16 blocks of
 * 16 records were.
 */
const MAX_SPARE_BLOCKS = 8;
/**
 * Free blocks, shared by every channel: ones whose every record was file data, released by the writer once
 * written (`leaseReceived`). A block that held anything else is never reused: its views may be kept. Not
 * zeroed: only bytes written into it since are read or handed out.
 */
const spareBlocks: SharedArrayBuffer[] = [];

const PUT_DATA = MESSAGE_TYPE_CODES.PUT_DATA;
const GET_DATA = MESSAGE_TYPE_CODES.GET_DATA;

/**
 * A free receive block (RECEIVE_BLOCK_BYTES), reused if one is spare. Shared memory: a worker opens it in
 * place and may write its data to the file, while this thread reads the same bytes, and nothing moves.
 */
export function takeReceiveBlock(): SharedArrayBuffer {
  return spareBlocks.pop() ?? new SharedArrayBuffer(RECEIVE_BLOCK_BYTES);
}

/** A leased block whose data was all written: kept for the next records, up to MAX_SPARE_BLOCKS. */
export function reuseReceiveBlock(block: SharedArrayBuffer): void {
  if (spareBlocks.length >= MAX_SPARE_BLOCKS) return;
  // Its leaf hashes were taken as its records were hashed; any left over are for bytes about to change.
  forgetLeafHashes(block);
  forgetOffThreadWriter(block);
  spareBlocks.push(block);
}

/** Whether `plaintext` is a PUT_DATA or GET_DATA record with data: a record whose one holder is the writer. */
export function isDataRecord(plaintext: Uint8Array): boolean {
  return (plaintext[0] === PUT_DATA || plaintext[0] === GET_DATA) && plaintext.length > PUT_DATA_HEADER_BYTES;
}
