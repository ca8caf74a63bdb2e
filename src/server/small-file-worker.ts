// The body of the worker thread that places batched small files (PROTOCOL.md §5.14): the synchronous
// filesystem work of a batch runs here, off the event loop that serves the sockets.
import { parentPort } from 'node:worker_threads';
import { placeSmallFiles, type SmallFile } from '../transfer/index.js';

/** One job for the worker: a batch's files, placed through temporaries in `tempDir`. */
export interface SmallFileJob {
  readonly id: number;
  readonly tempDir: string;
  readonly files: readonly SmallFile[];
}

parentPort?.on('message', (job: SmallFileJob) => void place(job));

async function place(job: SmallFileJob): Promise<void> {
  let outcomes;
  try {
    outcomes = await placeSmallFiles(job.tempDir, job.files);
  } catch {
    // placeSmallFiles settles every file itself; this only guards the thread against a bug.
    outcomes = job.files.map(() => ({ status: 'refused', code: 'INTERNAL' }) as const);
  }
  parentPort!.postMessage({ id: job.id, outcomes });
}
