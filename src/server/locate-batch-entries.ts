import { FerryError, toFerryError } from '../errors/index.js';
import { PERMISSION_UPLOAD, type BatchEntry } from '../protocol/index.js';
import type { BatchClaims } from './batch-claims.js';
import type { BatchDestination, BatchTarget } from './batch-destination.js';
import type { OpenBatch } from './open-batch.js';
import type { SessionIo } from './session-io.js';
import type { TransferClaim } from './transfer-registry.js';
import { transferIdOf } from './transfer-id.js';

/** Entries of a batch checked and located at once (see locateBatchEntries). */
const LOCATES_AT_ONCE = 16;

/** What `locateBatchEntries` works with: the session, the claims it makes as `owner`, where entries land. */
export interface LocateOptions {
  io: SessionIo;
  owner: TransferClaim;
  claims: BatchClaims;
  destination: BatchDestination;
}

/**
 * Checks, claims and locates every entry of one record (PROTOCOL.md §5.14, §6.2), LOCATES_AT_ONCE at a
 * time. The first entry into each directory goes alone, in
 * batch order, so a directory the batch creates is created and charged once, then known to the rest.
 */
export async function locateBatchEntries(
  batch: OpenBatch,
  entries: readonly BatchEntry[],
  options: LocateOptions,
): Promise<Array<{ transferId: string; target: BatchTarget } | Error>> {
  const { io, owner, claims, destination } = options;
  const located: Array<{ transferId: string; target: BatchTarget } | Error> = [];
  const locate = async (k: number, rooted: readonly string[]): Promise<void> => {
    try {
      const transferId = transferIdOf(io.clientKey, rooted.join('/'));
      // Claimed like a transfer (§6.2), before the destination is looked at: a session of this client
      // still writing this file completes or lets go first, so a re-send after a cut finds what the cut
      // batch placed.
      await io.ctx.registry.claim(transferId, owner, io.clientKey, io.stopped);
      claims.claimed(transferId);
      batch.claimed.push(transferId);
      located[k] = { transferId, target: await destination.locate(rooted) };
    } catch (err) {
      located[k] = toFerryError(err);
    }
  };
  const later: Array<[number, string[]]> = [];
  for (let k = 0; k < entries.length; k++) {
    const entry = entries[k]!;
    let rooted: string[];
    try {
      io.require(PERMISSION_UPLOAD, 'upload');
      if (io.ctx.maxFileBytes > 0 && entry.size > io.ctx.maxFileBytes)
        throw new FerryError('FILE_TOO_LARGE', `${entry.size} bytes, limit ${io.ctx.maxFileBytes}`);
      rooted = io.rooted(entry.path);
    } catch (err) {
      located[k] = toFerryError(err);
      continue;
    }
    const dir = rooted.slice(0, -1).join('/');
    if (batch.dirs.has(dir)) {
      later.push([k, rooted]);
    } else {
      batch.dirs.add(dir);
      await locate(k, rooted);
    }
  }
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < later.length) {
      const [k, rooted] = later[next++]!;
      await locate(k, rooted);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LOCATES_AT_ONCE, later.length) }, lane));
  return located;
}
