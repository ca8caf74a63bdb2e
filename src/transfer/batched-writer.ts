import type { FileHandle } from 'node:fs/promises';
import { offThreadWriterOf, releaseReceived } from '../protocol/index.js';

/** Contiguous data is gathered into one `pwritev` of about this many bytes. */
export const BATCH_BYTES = 1024 * 1024;
/** Writes in flight beyond this many bytes make the caller wait: the disk pushes back on the socket. */
const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;

/**
 * Positional writes without a round trip each: contiguous pieces are gathered into batches written with
 * `writev` while the caller goes on, one batch at a time, and the caller waits only when too much is queued. Buffers handed
 * in must not change until `flush()` resolves. The first write error is kept and thrown to the next caller.
 * Each buffer is the writer's alone once handed in: once its batch is written, it is released
 * (`releaseReceived`), so a receive block whose data it was may be reused. A batch made only of data in the
 * receive blocks of a pool that writes (`offThreadWriterOf`) is written by the pool's worker through the
 * handle's descriptor, so the bytes never pass through the event loop or libuv's pool (issue 14); any other
 * batch by `writev` on the handle. Either way it counts as written only once it landed.
 */
export class BatchedWriter {
  readonly #handle: FileHandle;
  #batch: { position: number; buffers: Buffer[]; bytes: number } | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #inFlightBytes = 0;
  /** The last batch's write, queued or running: the next one starts after it (`#submit`). */
  #writing: Promise<void> = Promise.resolve();
  #error: Error | undefined;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** Queues `data` for `position`; resolves at once unless too much is already in flight. */
  async write(data: Buffer, position: number): Promise<void> {
    this.#throwIfFailed();
    const batch = this.#batch;
    if (batch && batch.position + batch.bytes === position) {
      batch.buffers.push(data);
      batch.bytes += data.length;
    } else {
      this.#submit();
      this.#batch = { position, buffers: [data], bytes: data.length };
    }
    if (this.#batch!.bytes >= BATCH_BYTES) this.#submit();
    while (this.#inFlightBytes > MAX_IN_FLIGHT_BYTES) await Promise.race(this.#inFlight);
    this.#throwIfFailed();
  }

  /**
   * Resolves once no write is in flight, failed or not: before the handle is closed, since a worker writes
   * through its descriptor number, which a later open could reuse.
   */
  async settled(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  /** Resolves once everything queued so far is written; throws the first write error. */
  async flush(): Promise<void> {
    this.#submit();
    await Promise.all([...this.#inFlight]);
    this.#throwIfFailed();
  }

  #submit(): void {
    const batch = this.#batch;
    this.#batch = undefined;
    if (!batch) return;
    this.#inFlightBytes += batch.bytes;
    // One write of this file at a time, the next batch queued behind it (issue 16: several of libuv's pool
    // threads writing one file at once spun on its inode lock, ~0.1 CPU s per GiB written, for no more speed:
    // a buffered write holds that lock throughout).
    const run = this.#writing.then(() => this.#writeBatch(batch));
    this.#writing = run;
    const tracked = run.finally(() => {
      this.#inFlight.delete(tracked);
      this.#inFlightBytes -= batch.bytes;
    });
    this.#inFlight.add(tracked);
  }

  /** Writes `batch`; never rejects (the first error is kept for the next caller). */
  async #writeBatch(batch: { position: number; buffers: Buffer[] }): Promise<void> {
    const offThread = offThreadWriterOf(batch.buffers);
    try {
      await (offThread
        ? offThread.writev(this.#handle.fd, batch.buffers, batch.position)
        : writeAll(this.#handle, batch.buffers, batch.position));
      for (const buffer of batch.buffers) releaseReceived(buffer);
    } catch (err) {
      this.#error ??= err instanceof Error ? err : new Error(String(err));
    }
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }
}

async function writeAll(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
  let pending = buffers;
  let at = position;
  for (;;) {
    const total = pending.reduce((sum, b) => sum + b.length, 0);
    const { bytesWritten } = await handle.writev(pending, at);
    if (bytesWritten >= total) return;
    // Short write: drop what was written and go on with the rest.
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const b of pending) {
      if (skip >= b.length) skip -= b.length;
      else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    pending = rest;
  }
}
