import type { Worker } from 'node:worker_threads';
import { FerryError } from '../errors/index.js';

/**
 * One worker thread shared in turn by every caller of a process (the leaf hash thread, the server's
 * small-file placer): started on first use by `create`, each job posted with an id and answered by one
 * message carrying it, and unref'd while no job is pending, so a thread that is idle (or only warmed) never
 * keeps the process alive. If the thread fails to start or dies, every pending job fails with INTERNAL
 * naming `what`, and the next job starts a new thread.
 */
export class OneWorkerThread<Job extends object, Answer extends { readonly id: number }, Reply> {
  readonly #create: () => Worker;
  readonly #what: string;
  readonly #replyOf: (answer: Answer) => Reply;
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (reply: Reply) => void; reject: (e: Error) => void }>();

  constructor(create: () => Worker, what: string, replyOf: (answer: Answer) => Reply) {
    this.#create = create;
    this.#what = what;
    this.#replyOf = replyOf;
  }

  /** Posts `job` with an id of its own (any `id` in it is replaced); resolves with the thread's answer. */
  run(job: Job): Promise<Reply> {
    let worker: Worker;
    try {
      worker = this.start();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ ...job, id });
    });
  }

  /** Whether the thread is started (by `start` or a first job) and has not stopped. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** Stops the thread; jobs in flight fail. Idempotent. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) await worker.terminate();
  }

  /** The thread, started if it is not. */
  start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = this.#create();
    worker.on('message', (answer: Answer) => {
      const pending = this.#pending.get(answer.id);
      this.#pending.delete(answer.id);
      if (this.#pending.size === 0) worker.unref();
      pending?.resolve(this.#replyOf(answer));
    });
    const fail = (err: Error): void => {
      if (this.#worker === worker) this.#worker = undefined;
      const error = new FerryError('INTERNAL', `the ${this.#what} stopped`, { cause: err });
      for (const pending of this.#pending.values()) pending.reject(error);
      this.#pending.clear();
    };
    // Jobs fail at the thread's exit, not at its error: a job may have asked libuv's pool for a read into the
    // caller's memory through a lent descriptor (`LeafHashThread.readLeaves`), and the thread exits only once
    // its loop has no request left, so a failed job's caller may reuse the memory and give the descriptor back.
    let failure: Error | undefined;
    worker.on('error', (err) => (failure ??= err));
    worker.on('exit', (code) => fail(failure ?? new Error(`exit ${code}`)));
    // After the listeners: adding a 'message' listener refs the worker again (Node 20), and a thread that was
    // only warmed would keep the process alive for ever.
    worker.unref();
    this.#worker = worker;
    return worker;
  }
}
