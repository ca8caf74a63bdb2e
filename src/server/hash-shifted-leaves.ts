import { LEAF_BYTES, leafHash, noteLeafHash } from '../protocol/index.js';
import { LEAF_HASH_THREAD } from '../transfer/index.js';

/**
 * Hashes the whole leaves of the new file that `piece` holds (at new-file `offset`, read from the old file
 * off its leaf boundaries), half on the leaf hash thread and half here at the same time, and notes each hash
 * as a leaf hint of its bytes, which the partial's chunk hasher takes instead of hashing them again (issue
 * 16: a shifted copy's SHA-256 ran on this thread alone, the other core idle while the client waits). The
 * hashes are of the very bytes then written: `piece` is not read into again before its write landed and its
 * hints were forgotten (`CopyPieces.next`). Should the thread fail, its half is hashed by the chunk hasher,
 * here.
 */
export async function hashShiftedLeaves(piece: Buffer, offset: number): Promise<void> {
  const starts: number[] = [];
  for (
    let at = (LEAF_BYTES - (offset % LEAF_BYTES)) % LEAF_BYTES;
    at + LEAF_BYTES <= piece.length;
    at += LEAF_BYTES
  )
    starts.push(at);
  const shared = piece.buffer;
  if (starts.length < 2 || !(shared instanceof SharedArrayBuffer)) return;
  const half = starts.length >> 1;
  const theirs = starts.slice(half);
  const hashing = LEAF_HASH_THREAD.hashLeaves(
    shared,
    theirs.map((at) => piece.byteOffset + at),
    LEAF_BYTES,
  ).catch(() => undefined);
  for (const at of starts.slice(0, half))
    noteLeafHash(shared, piece.byteOffset + at, leafHash(piece.subarray(at, at + LEAF_BYTES)));
  const hashes = await hashing;
  if (hashes === undefined) return;
  theirs.forEach((at, i) =>
    noteLeafHash(shared, piece.byteOffset + at, Buffer.from(hashes.subarray(i * 32, (i + 1) * 32))),
  );
}
