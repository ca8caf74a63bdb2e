import { createDecipheriv, createSecretKey } from 'node:crypto';
import { AEAD_TAG_BYTES } from '../../crypto/index.js';
import type { OpenJob, OpenResult } from '../../protocol/index.js';
import {
  LEAF_BYTES,
  MESSAGE_TYPE_CODES,
  PUT_DATA_HEADER_BYTES,
  copyBytes,
  leafHashOfParts,
} from '../../protocol/index.js';

const EMPTY = Buffer.alloc(0);
/**
 * node:crypto hands a record's plaintext out in a fresh, zero-filled buffer (there is no update-into). As one
 * 64 KiB buffer per record, its memory was faulted in and zeroed afresh per record: 25-35 % of a worker's time
 * (perf, pipeline receive at 2 threads: page faults 11-17 %, memset 13-19 %, against SHA-256 37-42 % and
 * AES-GCM 14-16 %). In 8 KiB pieces glibc reuses the memory as it is freed: in 4 of the 5 workers measured
 * both fell under 2 % (the fifth: 11 % and 6 %), the allocation itself 12-20 %, and the workers took 3-10 %
 * fewer samples (16 KiB pieces still faulted: 13-15 %). Sealing gains nothing this way (measured).
 */
const OPEN_PIECE_BYTES = 8 * 1024;
const PUT_DATA = MESSAGE_TYPE_CODES.PUT_DATA;
const GET_DATA = MESSAGE_TYPE_CODES.GET_DATA;

/**
 * Opens each record of `job` under its reserved nonce, exactly as `CipherState.decryptWithAd` does
 * (AES-256-GCM, empty associated data, nonce = 4 zero bytes || u64 n; PROTOCOL.md §4.2); stops at the first
 * record that fails (its plaintext is zeroed and dropped). Each plaintext is copied over its own ciphertext in
 * the block (node:crypto has no update-into): the block goes back whole and the receiving thread hands out
 * views of it, so no buffer per record reaches it (its garbage collector would be driven by them), while
 * node:crypto's output dies young here, where a minor GC frees it. Then hashes every whole leaf of file data
 * (PUT_DATA, GET_DATA) lying in consecutive records of the block, for the receiver's ChunkHasher to take
 * ready-made. Zeroes the ranges' keys. Runs in a worker thread.
 */
export function openBlock(job: OpenJob): OpenResult {
  const view = Buffer.from(job.block);
  const nonce = Buffer.alloc(12);
  const opened: Buffer[] = [];
  let record = 0;
  try {
    opening: for (const range of job.ranges) {
      const key = createSecretKey(range.key);
      for (let i = 0; i < range.count; i++, record++) {
        const at = job.offsets[record]!;
        const bodyBytes = job.lengths[record]! - AEAD_TAG_BYTES;
        const n = range.nonce + i;
        nonce.writeUInt32BE(Math.floor(n / 0x100000000), 4);
        nonce.writeUInt32BE(n >>> 0, 8);
        const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES });
        decipher.setAuthTag(view.subarray(at + bodyBytes, at + bodyBytes + AEAD_TAG_BYTES));
        decipher.setAAD(EMPTY);
        // Opened in pieces: see OPEN_PIECE_BYTES. Copied into place only once the tag checked.
        const pieces: Buffer[] = [];
        for (let from = at; from < at + bodyBytes; from += OPEN_PIECE_BYTES) {
          pieces.push(
            decipher.update(view.subarray(from, Math.min(at + bodyBytes, from + OPEN_PIECE_BYTES))),
          );
        }
        try {
          decipher.final();
        } catch {
          // GCM hands out plaintext before the tag is checked; it must not linger
          for (const piece of pieces) piece.fill(0);
          break opening;
        }
        let to = at;
        for (const piece of pieces) to += copyBytes(piece, view, to);
        opened.push(view.subarray(at, at + bodyBytes));
      }
    }
  } finally {
    for (const range of job.ranges) range.key.fill(0);
  }
  const { leafAt, leafHashes } = hashLeaves(opened);
  // Shared memory never moved: the thread that posted it sees the plaintext where it is.
  const block = job.block instanceof SharedArrayBuffer ? undefined : job.block;
  return { block, opened: opened.length, leafAt, leafHashes };
}

/** A record's file data: the record's plaintext, its file offset and length, message and ref. */
interface DataRecord {
  plaintext: Buffer;
  offset: number;
  length: number;
  type: number;
  ref: number;
}

function dataRecordOf(plaintext: Buffer): DataRecord | undefined {
  const type = plaintext[0]!;
  if ((type !== PUT_DATA && type !== GET_DATA) || plaintext.length <= PUT_DATA_HEADER_BYTES) return undefined;
  return {
    plaintext,
    ref: plaintext.readUInt32BE(1),
    offset: plaintext.readUInt32BE(5) * 0x100000000 + plaintext.readUInt32BE(9),
    length: plaintext.length - PUT_DATA_HEADER_BYTES,
    type,
  };
}

interface Leaves {
  leafAt: number[];
  leafHashes: ArrayBuffer;
}

/**
 * The leaf hashes of every whole LEAF_BYTES-aligned leaf of file data in runs of consecutive opened records
 * of one message type and ref whose offsets follow on (a leaf of a chunk: chunks are aligned runs of leaves,
 * PROTOCOL.md §7.2). A leaf may span records: its parts are hashed in order. What the receiver's machine later
 * accepts of these records is fed to its ChunkHasher in exactly this order, so the bytes hashed here are the
 * bytes it would have hashed (and that are written).
 */
function hashLeaves(plaintexts: readonly Buffer[]): Leaves {
  const found: Leaves & { hashes: Buffer[] } = {
    leafAt: [],
    leafHashes: new ArrayBuffer(0),
    hashes: [],
  };
  let run: DataRecord[] = [];
  const flush = (): void => {
    if (run.length > 0) hashRun(run, found);
    run = [];
  };
  for (const plaintext of plaintexts) {
    const record = dataRecordOf(plaintext);
    if (record === undefined) {
      flush();
      continue;
    }
    const last = run[run.length - 1];
    if (
      last !== undefined &&
      (last.type !== record.type || last.ref !== record.ref || last.offset + last.length !== record.offset)
    ) {
      flush();
    }
    run.push(record);
  }
  flush();
  const leafHashes = new ArrayBuffer(32 * found.hashes.length);
  const out = Buffer.from(leafHashes);
  found.hashes.forEach((hash, j) => hash.copy(out, 32 * j));
  return { leafAt: found.leafAt, leafHashes };
}

function hashRun(run: DataRecord[], found: { leafAt: number[]; hashes: Buffer[] }): void {
  const first = run[0]!;
  const last = run[run.length - 1]!;
  const end = last.offset + last.length;
  let leaf = Math.ceil(first.offset / LEAF_BYTES) * LEAF_BYTES;
  let r = 0;
  while (leaf + LEAF_BYTES <= end) {
    while (run[r]!.offset + run[r]!.length <= leaf) r++;
    const parts: Buffer[] = [];
    let from = leaf;
    let k = r;
    while (from < leaf + LEAF_BYTES) {
      const rec = run[k]!;
      const to = Math.min(rec.offset + rec.length, leaf + LEAF_BYTES);
      const at = PUT_DATA_HEADER_BYTES + (from - rec.offset);
      parts.push(rec.plaintext.subarray(at, at + (to - from)));
      from = to;
      k++;
    }
    const first = run[r]!.plaintext;
    found.leafAt.push(first.byteOffset + PUT_DATA_HEADER_BYTES + (leaf - run[r]!.offset));
    found.hashes.push(leafHashOfParts(parts));
    leaf += LEAF_BYTES;
  }
}
