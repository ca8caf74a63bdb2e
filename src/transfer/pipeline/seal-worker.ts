// The worker thread of a SealPool: hashes and seals the blocks it is given, in the order given, keeping one
// ChunkHasher per chunk in progress (a chunk's blocks all come to the same worker); and opens and hashes
// blocks of received records (`openBlock`), each on its own.
import { writevSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { ChunkHasher } from '../../protocol/index.js';
import type { OpenJob } from '../../protocol/index.js';
import { openBlock } from './open-block.js';
import { sealBlock, type SealJob } from './seal-block.js';

const port = parentPort;
if (port === null) throw new Error('seal-worker runs only as a worker thread');
const hashers = new Map<number, ChunkHasher>();

// Every record sealed here leaves node:crypto's output (a fresh 64 KiB buffer: there is no update-into) as
// garbage, and this thread allocates almost nothing else, so V8 would collect only once that external memory
// had grown by about 64 MiB: per worker, most of `--threads 2`'s peak RSS. A minor GC every few blocks frees
// those buffers while they are few. Measured (upload, --threads 2): peak RSS 178 -> 124-128 MiB for a few
// percent more CPU, mostly the kernel refaulting the pages the allocator gives back; every 2 blocks saved no more.
// node:vm's `gc` is the only way to ask for a collection; the flag only adds `gc` to contexts made after it.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as (options: { type: 'minor' }) => void;
const BLOCKS_PER_GC = 4;
let blocksSinceGc = 0;

function collectSometimes(): void {
  if (++blocksSinceGc >= BLOCKS_PER_GC) {
    blocksSinceGc = 0;
    collectGarbage({ type: 'minor' });
  }
}

/** One positional write of file data lying in shared receive blocks (`SealPool.writev`). */
interface WriteJob {
  fd: number;
  position: number;
  buffers: Uint8Array[];
}

/** Writes every byte of `job` (a short write goes on from where it stopped). */
function writeAll(job: WriteJob): void {
  let pending = job.buffers;
  let position = job.position;
  while (pending.length > 0) {
    let skip = writevSync(job.fd, pending, position);
    position += skip;
    while (pending.length > 0 && skip >= pending[0]!.length) {
      skip -= pending[0]!.length;
      pending = pending.slice(1);
    }
    if (skip > 0) pending = [pending[0]!.subarray(skip), ...pending.slice(1)];
  }
}

port.on('message', (message: { id: number; job?: SealJob; open?: OpenJob; write?: WriteJob }) => {
  const { id, job, open, write } = message;
  if (write !== undefined) {
    try {
      writeAll(write);
      port.postMessage({ id, written: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      port.postMessage({ id, error: err instanceof Error ? err.message : String(err), code });
    }
    return;
  }
  if (open !== undefined) {
    try {
      const result = openBlock(open);
      // The leaf hashes go back moved, and the block too unless shared (then it never left): the writer takes
      // views of both.
      port.postMessage(
        { id, opened: result },
        result.block === undefined ? [result.leafHashes] : [result.block, result.leafHashes],
      );
      collectSometimes();
    } catch (err) {
      for (const range of open.ranges) range.key.fill(0);
      port.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
    }
    return;
  }
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
    collectSometimes();
  } catch (err) {
    for (const range of job.ranges) range.key.fill(0);
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
