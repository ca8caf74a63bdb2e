import type { BatchDestination, StagedEntry } from './batch-destination.js';
import type { OpenBatch, StagingEntry } from './open-batch.js';

/**
 * Every entry of `batch` with its staging, in batch order, once its records' checks and staging are done
 * (BATCH_END). If a record's staging failed, nothing of the batch is placed: what the others staged is
 * discarded and the failure thrown (it ends the session).
 */
export async function stagedEntriesOf(
  batch: OpenBatch,
  destination: BatchDestination,
): Promise<Array<StagingEntry & { staged: StagedEntry }>> {
  await batch.chain;
  const settled = await Promise.allSettled(batch.records.map((record) => record.staged));
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) {
    for (const result of settled) if (result.status === 'fulfilled') await destination.discard(result.value);
    throw failed.reason;
  }
  const all: Array<StagingEntry & { staged: StagedEntry }> = [];
  batch.records.forEach((record, r) => {
    const staged = (settled[r] as PromiseFulfilledResult<StagedEntry[]>).value;
    record.entries.forEach((entry, k) => all.push({ ...entry, staged: staged[k]! }));
  });
  return all;
}
