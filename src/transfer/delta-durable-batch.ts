import { DURABLE_BATCH_BYTES } from '../machines/index.js';

/**
 * A delta's receiver (the upload's server, the download's client) makes its verified chunks durable in
 * batches this many times its usual (`durableBatchBytes`, 64 MiB for the default 16): its chunks are mostly
 * copies of the old file, verified at the speed of memory, and every batch is an fdatasync of the data, one
 * of the log and a journal commit each, in a row behind the receiving (issue 16: 60 such pairs for 1 GiB;
 * 1 GiB written with a pair every 16 MiB took 1.25-1.43 s to be durable, every 64 MiB 0.79-1.16 s, at the
 * same CPU). A cut then forgets up to that many verified bytes, which a resume asks for again: copies of the
 * old file, which the receiver still holds, cheap to take again. Larger batches gain nothing more: every
 * 256 MiB (16 times), a 1 GiB WARM delta download took 2.11 s as at 64 MiB (stop 35, 4 alternating pairs).
 */
export const DELTA_DURABLE_BATCH_FACTOR = 4;

/** The durable batch of a delta's partial, for a receiver whose usual batch is `configured` (default if unset). */
export function deltaDurableBatchBytes(configured: number | undefined): number {
  return DELTA_DURABLE_BATCH_FACTOR * (configured ?? DURABLE_BATCH_BYTES);
}

/**
 * Bytes a delta's receiver places (`placeUnverified`) through the page cache between two syncs started
 * behind them (`syncWritten`, not waited for): the disk writes the placed leaves back while the signing or
 * the scan goes on, so the fsync after they are verified finds at most this much left (issue 16: ~0.45 s of
 * a 1 GiB delta's end). Bytes placed around the page cache are not counted: they are on the disk already.
 */
export const PLACED_SYNC_BYTES = 64 * 1024 * 1024;
