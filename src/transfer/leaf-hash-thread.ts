import { Worker } from 'node:worker_threads';
import { LEAF_BYTES } from '../protocol/index.js';
import { OneWorkerThread } from './one-worker-thread.js';

/**
 * The thread's whole program: the RFC 6962 leaf hash, SHA-256(0x00 || bytes), of each named range of a
 * shared buffer, read in place (no copy), the hashes back in one transferred buffer. Plain CommonJS with
 * node:crypto alone, so it runs the same from the sources, from dist/ and from the CLI's bundle, with nothing
 * to load but itself.
 */
const PROGRAM = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const PREFIX = Buffer.from([0]);
parentPort.on('message', ({ id, shared, starts, length }) => {
  const out = new Uint8Array(32 * starts.length);
  for (let i = 0; i < starts.length; i++)
    out.set(createHash('sha256').update(PREFIX).update(new Uint8Array(shared, starts[i], length)).digest(), 32 * i);
  parentPort.postMessage({ id, hashes: out.buffer }, [out.buffer]);
});
`;

/**
 * Leaf hashes of ranges of a SharedArrayBuffer on a worker thread of its own, while the caller's thread
 * does other work (issue 16: a delta upload's server hashed every byte of a shifted copy, and its whole old
 * file while signing it, on its event loop, the client idle, one of two cores unused): the signing's leaves
 * (`signLeaves`) and half of a shifted copy's (`delta-old-file.ts`). One thread per process, started on first use and shared in turn
 * by every caller, each with at most one job queued; it does not keep the process alive. A speed-up, never a
 * requirement: a caller whose job fails (the thread could not start or died) hashes the bytes itself.
 */
export class LeafHashThread {
  readonly #thread = new OneWorkerThread<LeafHashJob, { id: number; hashes: ArrayBuffer }, Buffer>(
    () => new Worker(PROGRAM, { eval: true }),
    'leaf hash thread',
    (answer) => Buffer.from(answer.hashes),
  );

  /**
   * The leaf hashes of the `length`-byte ranges of `shared` starting at `starts`, in order, 32 bytes each.
   * The caller leaves those bytes unchanged until the promise settles.
   */
  hashLeaves(shared: SharedArrayBuffer, starts: readonly number[], length: number): Promise<Buffer> {
    return this.#thread.run({ shared, starts, length });
  }

  /**
   * The leaf hashes of the whole leaves of `bytes` from its start (a view of shared memory, read in place),
   * 32 bytes each in order; undefined when it could not (no whole leaf, memory that is not shared, the
   * thread failed): the caller hashes those bytes itself, as it would without the thread. The one way the
   * callers that hash a buffer's leaves ask (`leafHashesOf`, a delta upload's scan).
   */
  async wholeLeaves(bytes: Buffer): Promise<Buffer | undefined> {
    const whole = Math.floor(bytes.length / LEAF_BYTES);
    if (whole === 0 || !(bytes.buffer instanceof SharedArrayBuffer)) return undefined;
    const starts = Array.from({ length: whole }, (_, i) => bytes.byteOffset + i * LEAF_BYTES);
    return this.hashLeaves(bytes.buffer, starts, LEAF_BYTES).catch(() => undefined);
  }

  /**
   * Starts the thread now, if it is not, so it has loaded by the first job: a thread started by its first job
   * made that job wait ~30 ms for it (issue 16: a delta's first signature record on the server, a delta
   * download's first window on the client). It does not keep the process alive.
   */
  warm(): void {
    this.#thread.start();
  }

  /** Whether the thread is started (by `warm` or a first job) and has not stopped. */
  get running(): boolean {
    return this.#thread.running;
  }

  /** Stops the thread; jobs in flight fail (their callers hash on their own). Idempotent. */
  close(): Promise<void> {
    return this.#thread.close();
  }
}

/** A job of the leaf hash thread: the ranges of `shared` to hash. */
interface LeafHashJob {
  readonly shared: SharedArrayBuffer;
  readonly starts: readonly number[];
  readonly length: number;
}

/** The process's one leaf hash thread (see LeafHashThread). */
export const LEAF_HASH_THREAD = new LeafHashThread();
