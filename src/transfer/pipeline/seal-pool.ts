import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { OffThreadWriter, OpenJob, OpenResult, ParallelOpener } from '../../protocol/index.js';
import { FerryError } from '../../errors/index.js';
import type { SealJob, SealResult } from './seal-block.js';

interface Pending {
  resolve: (result: SealResult | OpenResult) => void;
  reject: (err: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** Where the worker's code is: the compiled .js beside this file, or the .ts source under tsx (tests). */
function workerScript(): { script: string | URL; eval: boolean } {
  const url = new URL(
    import.meta.url.endsWith('.ts') ? './seal-worker.ts' : './seal-worker.js',
    import.meta.url,
  );
  if (!import.meta.url.endsWith('.ts')) return { script: url, eval: false };
  // Running from TypeScript sources (tests, bench): the worker registers tsx itself before loading them.
  const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return { script: code, eval: true };
}

/**
 * A pool of worker threads that hash and seal blocks of records, and open and hash blocks of received ones
 * (`open`, for `SecureChannel.openInParallel`) (issue 14's pipeline): the event loop keeps the sockets and the
 * bookkeeping, the workers the AES-GCM and SHA-256, and the file I/O of the data: a sending worker reads its
 * own block (`SealJob.read`), and received data is written from the blocks it was opened in (`writev`). Blocks move to a worker and back
 * without copies (transferred ArrayBuffers); a chunk's blocks all go to one worker, in order, since its hash
 * is one running state. Results come back per job; the caller writes them in nonce order.
 */
export class SealPool implements ParallelOpener, OffThreadWriter {
  readonly threads: number;
  readonly #workers: PoolWorker[] = [];
  readonly #chunkWorker = new Map<number, PoolWorker>();
  #next = 0;
  #ids = 0;
  #hashIds = 0;
  #failure: FerryError | undefined;
  /** Seal jobs in flight now; most ever. */
  #sealing = 0;
  #peakSealing = 0;
  /** Blocks of received records handed to the workers to open, ever. */
  #openedBlocks = 0;

  constructor(threads: number) {
    if (!Number.isSafeInteger(threads) || threads < 1 || threads > 256) {
      throw new FerryError('USAGE_INVALID', `threads must be 1 to 256, got ${threads}`);
    }
    this.threads = threads;
    const { script, eval: isEval } = workerScript();
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(script, { eval: isEval });
      const entry: PoolWorker = { worker, pending: new Map() };
      worker.on(
        'message',
        (message: {
          id: number;
          result?: SealResult;
          opened?: OpenResult;
          error?: string;
          code?: string;
          ready?: true;
          written?: true;
        }) => {
          const waiter = entry.pending.get(message.id);
          entry.pending.delete(message.id);
          if (entry.pending.size === 0) worker.unref();
          if (message.ready === true || message.written === true) {
            waiter?.resolve(undefined as unknown as SealResult);
            return;
          }
          if (message.opened !== undefined) {
            waiter?.resolve(message.opened);
            return;
          }
          if (message.code !== undefined) {
            // A failed write: the file's error as `fs` gives it (ENOSPC, EIO...), for the store to report.
            waiter?.reject(Object.assign(new Error(message.error), { code: message.code }));
            return;
          }
          if (message.error !== undefined || message.result === undefined) {
            waiter?.reject(new FerryError('INTERNAL', `seal worker: ${message.error ?? 'no result'}`));
            return;
          }
          const r = message.result;
          // Structured clone hands the hash back as a Uint8Array: a Buffer again, no copy.
          waiter?.resolve({
            ...r,
            chunkHash:
              r.chunkHash === undefined
                ? undefined
                : Buffer.from(r.chunkHash.buffer, r.chunkHash.byteOffset, r.chunkHash.byteLength),
          });
        },
      );
      const fail = (err: unknown): void => {
        this.#failure ??= new FerryError('INTERNAL', 'a seal worker failed', { cause: err });
        for (const waiter of entry.pending.values()) waiter.reject(this.#failure);
        entry.pending.clear();
      };
      worker.on('error', fail);
      worker.on('exit', (code) => {
        if (entry.pending.size > 0) fail(new Error(`exited with ${code}`));
      });
      // An idle pool must not keep the process alive; a worker with jobs does (ref'd while it has any).
      worker.unref();
      this.#workers.push(entry);
    }
  }

  /**
   * Each worker's event loop utilization since it started (`worker.performance.eventLoopUtilization()`): the
   * share of its wall time spent on jobs rather than waiting for one. Diff two readings with
   * `performance.eventLoopUtilization(after, before)` to see how busy the pool was over a stretch (bench).
   */
  utilization(): EventLoopUtilization[] {
    return this.#workers.map((entry) => entry.worker.performance.eventLoopUtilization());
  }

  /** A new id naming one chunk's running hash across its jobs (`SealJob.chunk`). */
  hashId(): number {
    return this.#hashIds++;
  }

  /** Resolves once every worker has loaded and answered (so a measurement leaves out the start-up). */
  async ready(): Promise<void> {
    await Promise.all(
      this.#workers.map(
        (entry) =>
          new Promise<SealResult | OpenResult>((resolve, reject) => {
            const id = this.#ids++;
            entry.pending.set(id, { resolve, reject });
            entry.worker.ref();
            entry.worker.postMessage({ id });
          }),
      ),
    );
  }

  /** The most seal jobs (blocks) ever in flight at once, over all streams. */
  get peakSealing(): number {
    return this.#peakSealing;
  }

  /** Blocks of received records ever handed to the workers to open (`open`), over all streams. */
  get openedBlocks(): number {
    return this.#openedBlocks;
  }

  /**
   * Hands `job` to a worker: `job.block` and `job.out` are moved (unusable here until the result gives them
   * back) and the ranges' keys are zeroed here once posted (the worker zeroes its copy after sealing).
   */
  seal(job: SealJob): Promise<SealResult> {
    this.#sealing++;
    this.#peakSealing = Math.max(this.#peakSealing, this.#sealing);
    const settled = this.#seal(job);
    settled.then(
      () => this.#sealing--,
      () => this.#sealing--,
    );
    return settled;
  }

  #seal(job: SealJob): Promise<SealResult> {
    if (this.#failure) {
      for (const range of job.ranges) range.key.fill(0);
      return Promise.reject(this.#failure);
    }
    let entry = this.#chunkWorker.get(job.chunk);
    if (entry === undefined) {
      entry = this.#workers[this.#next]!;
      this.#next = (this.#next + 1) % this.#workers.length;
      this.#chunkWorker.set(job.chunk, entry);
    }
    if (job.last) this.#chunkWorker.delete(job.chunk);
    const id = this.#ids++;
    const target = entry;
    return new Promise<SealResult>((resolve, reject) => {
      target.pending.set(id, { resolve: resolve as (result: SealResult | OpenResult) => void, reject });
      target.worker.ref();
      try {
        target.worker.postMessage({ id, job }, [job.block, job.out]);
      } catch (err) {
        target.pending.delete(id);
        reject(new FerryError('INTERNAL', 'could not hand a block to a seal worker', { cause: err }));
      } finally {
        for (const range of job.ranges) range.key.fill(0);
      }
    });
  }

  /**
   * Hands a block of received records to the least busy worker to open and hash (`openBlock`): `job.block`
   * is moved (it comes back in the result, plaintext in place) and the ranges' keys are zeroed here once
   * posted. Blocks are independent (each record carries its nonce), so they may finish in any order; the
   * channel delivers them in order.
   */
  open(job: OpenJob): Promise<OpenResult> {
    if (this.#failure) {
      for (const range of job.ranges) range.key.fill(0);
      return Promise.reject(this.#failure);
    }
    this.#openedBlocks++;
    let target = this.#workers[0]!;
    for (const entry of this.#workers) if (entry.pending.size < target.pending.size) target = entry;
    const id = this.#ids++;
    return new Promise<OpenResult>((resolve, reject) => {
      target.pending.set(id, { resolve: resolve as (result: SealResult | OpenResult) => void, reject });
      target.worker.ref();
      try {
        // Shared memory is lent, not moved: it cannot be in a transfer list.
        target.worker.postMessage(
          { id, open: job },
          job.block instanceof SharedArrayBuffer ? [] : [job.block],
        );
      } catch (err) {
        target.pending.delete(id);
        reject(new FerryError('INTERNAL', 'could not hand a block to a pool worker', { cause: err }));
      } finally {
        for (const range of job.ranges) range.key.fill(0);
      }
    });
  }

  /**
   * Writes `buffers` (views of shared memory: receive blocks) at `position` of the file open as `fd`, on the
   * least busy worker (`OffThreadWriter`, issue 14): the bytes go from the block to the page cache without
   * the event loop or libuv's pool. Resolves once all landed. The caller keeps `fd` open until this settles.
   */
  writev(fd: number, buffers: readonly Uint8Array[], position: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    let target = this.#workers[0]!;
    for (const entry of this.#workers) if (entry.pending.size < target.pending.size) target = entry;
    const id = this.#ids++;
    return new Promise<void>((resolve, reject) => {
      target.pending.set(id, { resolve: () => resolve(), reject });
      target.worker.ref();
      try {
        target.worker.postMessage({ id, write: { fd, position, buffers } });
      } catch (err) {
        target.pending.delete(id);
        reject(new FerryError('INTERNAL', 'could not hand a write to a pool worker', { cause: err }));
      }
    });
  }

  /** Stops every worker; pending jobs fail. */
  async close(): Promise<void> {
    this.#failure ??= new FerryError('CONNECTION_CLOSED', 'seal pool closed');
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}
