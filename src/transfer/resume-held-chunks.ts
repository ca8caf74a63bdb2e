import { chunkCount, chunkLength } from '../protocol/index.js';
import type { ChunkEntry } from './chunk-log.js';
import type { StoredPartial, TransferHeader } from './partial-store.js';
import { heldLoggedChunks } from './verify-logged-chunks.js';

/** The chunks a resumed partial holds, and what finding that out cost. */
export interface ResumedChunks {
  readonly held: readonly ChunkEntry[];
  /**
   * Bytes of logged chunks read back and re-hashed (0 when the partial was unchanged since it was closed,
   * PROTOCOL.md §9.2): what a server charges to the client's hashing budget.
   */
  readonly rehashedBytes: number;
}

/**
 * The chunks a partial `stored` resumed holds: `verified` when the caller re-verified them already (spares a
 * second hashing pass), else the logged ones by `heldLoggedChunks`' policy (PROTOCOL.md §9.2). Its log is
 * then rewritten to exactly those.
 */
export async function resumeHeldChunks(
  stored: StoredPartial<unknown>,
  header: TransferHeader,
  verified: readonly ChunkEntry[] | undefined,
): Promise<ResumedChunks> {
  let held: readonly ChunkEntry[];
  let rehashedBytes = 0;
  if (verified) held = verified;
  else {
    held = await heldLoggedChunks(stored, stored, header);
    if (!stored.unchangedSinceClose) rehashedBytes = bytesOf(stored.logged, header);
  }
  // Rewritten on resume: drops entries that failed re-verification and any torn tail.
  await stored.resetLog(held);
  return { held, rehashedBytes };
}

/** File bytes of the distinct chunks within the file that `entries` name: what re-hashing them reads. */
function bytesOf(entries: readonly ChunkEntry[], header: TransferHeader): number {
  const count = chunkCount(header.size, header.chunkBytes);
  let bytes = 0;
  for (const index of new Set(entries.map((e) => e.index)))
    if (index < count) bytes += chunkLength(index, header.size, header.chunkBytes);
  return bytes;
}
