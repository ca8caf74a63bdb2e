// The body of the worker thread that places batched small files (PROTOCOL.md §5.14): the synchronous
// filesystem work of a batch runs here, off the event loop that serves the sockets.
import { parentPort } from 'node:worker_threads';
import {
  placeSmallFiles,
  placeStagedFiles,
  stageSmallFiles,
  type SmallFile,
  type StagedPlacement,
} from '../transfer/place-small-files.js';

/**
 * One job for the worker: `place` a batch's files whole, through temporaries in `tempDir`; `stage` them
 * (verified, written and durable in temporaries, while the batch still arrives); or place what was
 * `staged` under the final names (at the batch's end).
 */
export type SmallFileJob =
  | {
      readonly id: number;
      readonly kind: 'place' | 'stage';
      readonly tempDir: string;
      readonly files: readonly SmallFile[];
    }
  | { readonly id: number; readonly kind: 'staged'; readonly staged: readonly StagedPlacement[] };

parentPort?.on('message', (job: SmallFileJob) => void run(job));

async function run(job: SmallFileJob): Promise<void> {
  let outcomes;
  try {
    outcomes =
      job.kind === 'staged'
        ? await placeStagedFiles(job.staged)
        : job.kind === 'stage'
          ? await stageSmallFiles(job.tempDir, job.files)
          : await placeSmallFiles(job.tempDir, job.files);
  } catch {
    // The functions settle every file themselves; this only guards the thread against a bug.
    const count = job.kind === 'staged' ? job.staged.length : job.files.length;
    outcomes = Array.from({ length: count }, () => ({ status: 'refused', code: 'INTERNAL' }) as const);
  }
  parentPort!.postMessage({ id: job.id, outcomes });
}
