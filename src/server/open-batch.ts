import { randomBytes } from 'node:crypto';
import type { BatchEntry, BatchEntryResult, PutBatchMessage } from '../protocol/index.js';
import type { SmallFile } from '../transfer/index.js';
import type { StagedEntry } from './batch-destination.js';

/** An entry checked, claimed and charged, on its way to its name (BatchUploads.#stageRecord). */
export interface StagingEntry {
  readonly index: number;
  /** What its storage promise grew by (0 for an entry compared with an existing file). */
  readonly bytes: number;
  readonly transferId: string;
  /** The entry as the client sent it (its path for the log and the dashboard). */
  readonly entry: BatchEntry;
  readonly file: SmallFile;
}

/**
 * The batch whose records are arriving (PROTOCOL.md §5.14): each record's entries are checked, claimed,
 * charged and staged (verified and written durable to temporaries) as the record arrives; BATCH_END then
 * only places the names.
 */
export interface OpenBatch {
  readonly ref: number;
  readonly overwrite: boolean;
  readonly chunkBytes: number;
  /** One storage promise for the whole batch, grown entry by entry in batch order. */
  readonly promiseId: string;
  promised: number;
  /** Entries received so far: the index of the next record's first entry. */
  received: number;
  /** Directories an entry of this batch went into already (see locateBatchEntries). */
  readonly dirs: Set<string>;
  readonly claimed: string[];
  readonly results: BatchEntryResult[];
  /** Each record's entries being staged, and their staging (rejects only if the worker fails). */
  readonly records: Array<{ entries: StagingEntry[]; staged: Promise<StagedEntry[]> }>;
  /** The records' checks, one record after the other; rejects with what ends the session. */
  chain: Promise<void>;
  /** Settles the entries' claims once they are placed (see BatchClaims). */
  readonly placed: () => void;
  /** Gives back this batch's place among the batches the server holds (BatchAdmission); idempotent. */
  readonly admission: () => void;
  readonly placement: Promise<void>;
}

/** The batch the PUT_BATCH `message` opens, holding its place among the batches (`admission`) till released. */
export function openBatch(message: PutBatchMessage, admission: () => void): OpenBatch {
  let placed = (): void => undefined;
  const placement = new Promise<void>((resolve) => (placed = resolve));
  return {
    ref: message.ref,
    overwrite: message.overwrite,
    chunkBytes: message.chunkBytes,
    promiseId: `batch-${randomBytes(12).toString('hex')}`,
    promised: 0,
    received: 0,
    dirs: new Set(),
    claimed: [],
    results: [],
    records: [],
    chain: Promise.resolve(),
    placed,
    placement,
    admission,
  };
}
