import type { ChunkHashes, ChunkSet } from '../protocol/index.js';

/**
 * How a receiver's claim to hold chunks compares with the sender's own bytes: the digest over our hashes of the
 * claimed chunks against the claim's `haveDigest` (PROTOCOL.md §5.4 for PUT_ACCEPT, §5.11.2 for GET_REQUEST).
 * `whole`: it holds and names every chunk, so the receiver has the file (EXISTING identical, VERIFY_ONLY).
 * One rule for both senders, so an upload and a download can never judge the same claim differently.
 */
export function judgeHeldClaim(
  hashes: ChunkHashes,
  claimed: ChunkSet,
  haveDigest: Buffer,
): 'differs' | 'holds' | 'whole' {
  if (!hashes.haveDigest(claimed).equals(haveDigest)) return 'differs';
  return claimed.count === hashes.count ? 'whole' : 'holds';
}
