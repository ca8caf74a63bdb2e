// The worker thread of a SealPool: hashes and seals the blocks it is given, in the order given, keeping one
// ChunkHasher per chunk in progress (a chunk's blocks all come to the same worker).
import { parentPort } from 'node:worker_threads';
import { ChunkHasher } from '../../protocol/index.js';
import { sealBlock, type SealJob } from './seal-block.js';

const port = parentPort;
if (port === null) throw new Error('seal-worker runs only as a worker thread');
const hashers = new Map<number, ChunkHasher>();

port.on('message', (message: { id: number; job?: SealJob }) => {
  const { id, job } = message;
  if (job === undefined) {
    port.postMessage({ id, ready: true }); // `SealPool.ready()`: loaded and answering
    return;
  }
  try {
    let hasher = hashers.get(job.chunk);
    if (hasher === undefined) hashers.set(job.chunk, (hasher = new ChunkHasher()));
    if (job.last) hashers.delete(job.chunk);
    const result = sealBlock(job, hasher);
    // Handed back without copies: both buffers move to the main thread, to be reused for the next job.
    port.postMessage({ id, result }, [result.block, result.out]);
  } catch (err) {
    for (const range of job.ranges) range.key.fill(0);
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
