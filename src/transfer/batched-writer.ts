import type { FileHandle } from 'node:fs/promises';
import { claimReceived, offThreadWriterOf, releaseReceived } from '../protocol/index.js';
import { Wakeup } from './wakeup.js';

/** Contiguous data is gathered into one `pwritev` of about this many bytes. */
export const BATCH_BYTES = 1024 * 1024;
/** Writes in flight beyond this many bytes make the caller wait: the disk pushes back on the socket. */
const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;

export interface BatchedWriterOptions {
  /**
   * Batches written through libuv's pool go one at a time, the next queued behind the last (the receive
   * pool's writes never wait): several pool threads writing one file at once spin on its inode lock, which a
   * buffered write holds throughout (issue 16: 0.12 CPU s of a 1 GiB delta upload's server placing the old
   * file's leaves, for no more speed). Not for every writer: queued, a download's receiver releases its
   * receive blocks later and pays for new ones (client CPU +0.6 s per GiB downloaded).
   */
  readonly oneAtATime?: boolean;
}

/**
 * Positional writes without a round trip each: contiguous pieces are gathered into batches written with
 * `writev` while the caller goes on, and the caller waits only when too much is in flight. Buffers handed
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
  /** Woken as each batch in flight settles: writers held by MAX_IN_FLIGHT_BYTES look again. */
  readonly #landed = new Wakeup();
  /** The last batch written through libuv's pool, queued or running: the next one starts after it. */
  #libuvWrites: Promise<void> = Promise.resolve();
  #error: Error | undefined;

  /** Whether batches written through libuv's pool go one at a time (`BatchedWriterOptions`). */
  readonly #oneAtATime: boolean;

  /** Writes the batch gathered so far now (a receiver short of memory wants its blocks back). */
  readonly #letGo = (): void => this.#submit();

  constructor(handle: FileHandle, options: BatchedWriterOptions = {}) {
    this.#handle = handle;
    this.#oneAtATime = options.oneAtATime ?? false;
  }

  /**
   * Queues `data` for `position`; resolves at once unless too much is already in flight. Received data is
   * claimed (`claimReceived`): kept until written, and written at once when its receiver wants the memory
   * back, since what would fill the batch is then not read.
   */
  async write(data: Buffer, position: number): Promise<void> {
    this.#throwIfFailed();
    const wanted = claimReceived(data, this.#letGo);
    const batch = this.#batch;
    if (batch && batch.position + batch.bytes === position) {
      batch.buffers.push(data);
      batch.bytes += data.length;
    } else {
      this.#submit();
      this.#batch = { position, buffers: [data], bytes: data.length };
    }
    if (wanted || this.#batch!.bytes >= BATCH_BYTES) this.#submit();
    while (this.#inFlightBytes > MAX_IN_FLIGHT_BYTES) await this.#landed.next();
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
    const offThread = offThreadWriterOf(batch.buffers);
    const written = (): Promise<void> =>
      offThread
        ? offThread.writev(this.#handle.fd, batch.buffers, batch.position)
        : writeAll(this.#handle, batch.buffers, batch.position);
    const writing =
      offThread || !this.#oneAtATime
        ? written()
        : (this.#libuvWrites = this.#libuvWrites.then(written, written));
    const run = writing.then(
      () => {
        for (const buffer of batch.buffers) releaseReceived(buffer);
      },
      (err: unknown) => {
        this.#error ??= err instanceof Error ? err : new Error(String(err));
      },
    );
    const tracked = run.finally(() => {
      this.#inFlight.delete(tracked);
      this.#inFlightBytes -= batch.bytes;
      this.#landed.wake();
    });
    this.#inFlight.add(tracked);
  }

  #throwIfFailed(): void {
    if (this.#error !== undefined) throw this.#error;
  }
}

/** Writes every byte of `buffers` at `position` on, however short each `pwritev` is. */
export async function writeAll(handle: FileHandle, buffers: Buffer[], position: number): Promise<void> {
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
