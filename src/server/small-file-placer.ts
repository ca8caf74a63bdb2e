import { Worker } from 'node:worker_threads';
import {
  OneWorkerThread,
  type SmallFile,
  type SmallFileOutcome,
  type StagedPlacement,
  type StagedSmallFile,
} from '../transfer/index.js';
import type { SmallFileJob } from './small-file-worker.js';

/**
 * Runs batches of small files through one worker thread (PROTOCOL.md §5.14), in arrival order. One thread
 * for the whole server: the work is a few syscalls per file, and batches of every session queue here, each
 * session holding at most MAX_BATCHES_IN_FLIGHT of them. The thread is started on first use and does not
 * keep the process alive.
 */
export class SmallFilePlacer {
  readonly #thread = new OneWorkerThread<SmallFileJob, { id: number; outcomes: unknown[] }, unknown[]>(
    startSmallFileWorker,
    'small-file worker',
    (answer) => answer.outcomes,
  );

  /** Places `files` (see placeSmallFiles); rejects only if the thread itself fails. */
  place(tempDir: string, files: readonly SmallFile[]): Promise<SmallFileOutcome[]> {
    if (files.length === 0) return Promise.resolve([]);
    return this.#run({ id: 0, kind: 'place', tempDir, files });
  }

  /** Stages `files` in temporaries (see stageSmallFiles); rejects only if the thread itself fails. */
  stage(tempDir: string, files: readonly SmallFile[]): Promise<StagedSmallFile[]> {
    if (files.length === 0) return Promise.resolve([]);
    return this.#run({ id: 0, kind: 'stage', tempDir, files });
  }

  /** Places staged temporaries (see placeStagedFiles); rejects only if the thread itself fails. */
  placeStaged(staged: readonly StagedPlacement[]): Promise<SmallFileOutcome[]> {
    if (staged.length === 0) return Promise.resolve([]);
    return this.#run({ id: 0, kind: 'staged', staged });
  }

  #run<T>(job: SmallFileJob): Promise<T[]> {
    return this.#thread.run(job) as Promise<T[]>;
  }

  /**
   * Starts the thread ahead of the first placement: a batch's first record calls it, so the thread loads
   * its modules (~0.1 s here) while the rest of the batch is still arriving, not after its end.
   */
  warm(): void {
    this.#thread.start();
  }

  /** Whether the thread is started (by `warm` or a first job) and has not stopped. */
  get running(): boolean {
    return this.#thread.running;
  }

  /** Stops the thread; batches still queued fail. Idempotent. */
  close(): Promise<void> {
    return this.#thread.close();
  }
}

/**
 * Starts the small-file worker. Built code (dist/, or the CLI's bundle in dist/cli-bundle/, where
 * import.meta.url is this code's chunk) runs the .js file beside this one; tests run the sources (tsx), where
 * it is the .ts. Chosen by what runs here, not by which file exists: built code without its worker must
 * fail, not fall back to tsx.
 */
function startSmallFileWorker(): Worker {
  return !import.meta.url.endsWith('.ts')
    ? new Worker(new URL('./small-file-worker.js', import.meta.url))
    : // The sources: register tsx's loader in the thread before the worker's module is loaded.
      new Worker(
        `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(
          new URL('./small-file-worker.ts', import.meta.url).href,
        )}); });`,
        { eval: true },
      );
}

/** The server process's one placer (see SmallFilePlacer). */
export const SMALL_FILE_PLACER = new SmallFilePlacer();
