import { createCipheriv, createSecretKey } from 'node:crypto';
import { readvSync } from 'node:fs';
import { AEAD_TAG_BYTES, type NonceRange } from '../../crypto/index.js';
import { ChunkHasher } from '../../protocol/index.js';

/**
 * One block of records to hash and seal off the event loop: the plaintexts sit in `block` as slots of
 * `slotBytes`, each `[message header | file data]`, `lengths[i]` bytes used of slot i.
 */
export interface SealJob {
  block: ArrayBuffer;
  slotBytes: number;
  lengths: number[];
  /** Bytes at the start of each slot that are the message header, not file data (not hashed). */
  headerBytes: number;
  /** The records' nonces, in order (`SessionCipher.reserveSend`); the counts add up to `lengths.length`. */
  ranges: NonceRange[];
  /** Names the chunk these records belong to (`SealPool.hashId`); its bytes are hashed in order by one hasher. */
  chunk: number;
  /** This block ends its chunk: the result carries the chunk hash. */
  last: boolean;
  /** Where the sealed records go, framed (`u16 length || ciphertext || tag`, PROTOCOL.md §4.1), back to back. */
  out: ArrayBuffer;
  /**
   * Read the file data here first: from descriptor `fd` (lent by the source, `SourceFile.lendFd`) at file
   * offset `position` on, into each slot past its header, so neither the event loop nor libuv's pool touches
   * the bytes (issue 14). Without it the slots hold the data already.
   */
  read?: { fd: number; position: number } | undefined;
}

/**
 * Why a job's read came up short: the file ended at `endedAt` (it shrank: SOURCE_CHANGED), or the read failed
 * with `code`. The records were sealed over zeros in place of the missing bytes, so their nonces are used.
 */
export type ReadFailure = { endedAt: number } | { code: string; message: string };

/** The sealed records of a job: the job's two buffers back, `out` holding `outBytes` of framed records. */
export interface SealResult {
  block: ArrayBuffer;
  out: ArrayBuffer;
  outBytes: number;
  chunkHash?: Buffer | undefined;
  /** Set when `read` came up short: these records and the chunk's hash are not the file's. */
  readFailed?: ReadFailure | undefined;
}

/** Bytes `out` needs for a job of `records` records of at most `slotBytes` plaintext each. */
export function sealedCapacity(records: number, slotBytes: number): number {
  return records * (2 + slotBytes + AEAD_TAG_BYTES);
}

const EMPTY = Buffer.alloc(0);

/**
 * Hashes the data of each record into `hasher` and seals each record under its reserved nonce, exactly as
 * `CipherState.encryptWithAdParts` does (AES-256-GCM, empty associated data, nonce = 4 zero bytes || u64 n;
 * PROTOCOL.md §4.2). Zeroes the ranges' keys. Runs in a worker thread, or inline.
 */
export function sealBlock(job: SealJob, hasher: ChunkHasher): SealResult {
  const view = Buffer.from(job.block);
  const out = Buffer.from(job.out);
  const readFailed = job.read === undefined ? undefined : readSlots(job, view, job.read);
  let at = 0;
  const nonce = Buffer.alloc(12);
  let record = 0;
  try {
    for (const range of job.ranges) {
      const key = createSecretKey(range.key);
      for (let i = 0; i < range.count; i++, record++) {
        const slot = view.subarray(record * job.slotBytes, record * job.slotBytes + job.lengths[record]!);
        hasher.update(slot.subarray(job.headerBytes));
        const n = range.nonce + i;
        nonce.writeUInt32BE(Math.floor(n / 0x100000000), 4);
        nonce.writeUInt32BE(n >>> 0, 8);
        const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES });
        cipher.setAAD(EMPTY);
        // node:crypto has no update-into: its output is copied once, into the framed block the socket takes
        // whole (one write per block instead of three per record).
        out.writeUInt16BE(slot.length + AEAD_TAG_BYTES, at);
        at += 2 + cipher.update(slot).copy(out, at + 2);
        cipher.final();
        at += cipher.getAuthTag().copy(out, at);
      }
    }
  } finally {
    for (const range of job.ranges) range.key.fill(0);
  }
  return {
    block: job.block,
    out: job.out,
    outBytes: at,
    chunkHash: job.last ? hasher.digest() : undefined,
    readFailed,
  };
}

/**
 * Fills each slot past its header with the file's bytes from `read.position` on, in as few `readv` calls as
 * the kernel allows. A short file or a failed read leaves zeros in place of what is missing (the records are
 * still sealed: their nonces are reserved, and the peer waits for them in order) and says why.
 */
function readSlots(
  job: SealJob,
  view: Buffer,
  read: { fd: number; position: number },
): ReadFailure | undefined {
  const pending = job.lengths.map((length, i) =>
    view.subarray(i * job.slotBytes + job.headerBytes, i * job.slotBytes + length),
  );
  let position = read.position;
  let failure: ReadFailure | undefined;
  while (pending.length > 0) {
    let bytesRead: number;
    try {
      bytesRead = readvSync(read.fd, pending, position);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      failure = { code: e.code ?? 'EIO', message: e.message };
      break;
    }
    if (bytesRead === 0) {
      failure = { endedAt: position };
      break;
    }
    position += bytesRead;
    let skip = bytesRead;
    while (pending.length > 0 && skip >= pending[0]!.length) skip -= pending.shift()!.length;
    if (skip > 0) pending[0] = pending[0]!.subarray(skip);
  }
  for (const rest of pending) rest.fill(0);
  return failure;
}

/** Seals one record (a chunk's closing message) under a one-nonce range, framed; zeroes the range's key. */
export function sealOne(range: NonceRange, plaintext: Buffer): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(Math.floor(range.nonce / 0x100000000), 4);
  nonce.writeUInt32BE(range.nonce >>> 0, 8);
  try {
    const cipher = createCipheriv('aes-256-gcm', createSecretKey(range.key), nonce, {
      authTagLength: AEAD_TAG_BYTES,
    });
    cipher.setAAD(EMPTY);
    const body = cipher.update(plaintext);
    cipher.final();
    const frame = Buffer.allocUnsafe(2 + body.length + AEAD_TAG_BYTES);
    frame.writeUInt16BE(body.length + AEAD_TAG_BYTES, 0);
    body.copy(frame, 2);
    cipher.getAuthTag().copy(frame, 2 + body.length);
    return frame;
  } finally {
    range.key.fill(0);
  }
}
