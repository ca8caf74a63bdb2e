// Question (issue 16): what does the leaf hash thread's reading of a file cost, around the page cache
// (O_DIRECT, `direct-reads.ts`) against through it, when the file is cold (caches dropped before each run)
// and when it is cached (read once untimed before each run)? Hashes one file (`LeafHashThread.hashFile`, a
// delta upload's new file; `--sign`: `signLeaves`, a delta's signing, on the process's leaf hash threads)
// `runs` times per way, alternated (always direct, direct unless found cached, never direct; then again), and prints per run the wall time and
// the process's CPU seconds (user, system), then medians per way.
//
//   node --import tsx bench/hash-file-probe.ts [--size 1G] [--runs 3] [--cold] [--sign] [--file PATH]
//
// --cold: `sync; echo 3 > /proc/sys/vm/drop_caches` before each run (root; under the bench lock).
// Linux only.
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ChunkHashes, LEAF_BYTES } from '../src/protocol/index.js';
import { LEAF_HASH_THREADS, LeafHashThread } from '../src/transfer/leaf-hash-thread.js';
import { DIRECT_READ_COUNTERS } from '../src/transfer/leaf-hash-thread.js';
import type { DirectReads } from '../src/transfer/direct-reads.js';
import { signLeaves } from '../src/transfer/sign-leaves.js';
import { SourceFile } from '../src/transfer/source-file.js';
import { writeRandomFile } from '../test/helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';
import { parseSize } from './lib/parse-size.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    runs: { type: 'string', default: '3' },
    cold: { type: 'boolean', default: false },
    sign: { type: 'boolean', default: false },
    file: { type: 'string' },
  },
});
const size = parseSize(values.size);
const runs = Number(values.runs);
const dir = values.file === undefined ? await makeTempDir('ferry-hash-probe-') : undefined;
const path = values.file ?? join(dir!, 'file.bin');
if (dir !== undefined) await writeRandomFile(path, size);

/** Two threads per way: the signing spreads its pieces over two, as on this 2-core machine. */
const pair = (directReads: DirectReads): LeafHashThread[] => [
  new LeafHashThread({ directReads }),
  new LeafHashThread({ directReads }),
];
const threads = { direct: pair('always'), probed: pair('uncached'), buffered: pair('never') };
const WAYS = ['direct', 'probed', 'buffered'] as const;
type Way = keyof typeof threads;

/** Hashes the file once the given way; the bytes read around the page cache. */
async function hashOnce(way: Way): Promise<number> {
  const before = DIRECT_READ_COUNTERS.bytes;
  const file = await SourceFile.open(path);
  try {
    if (values.sign) {
      const hashes = new ChunkHashes(file.size, LEAF_BYTES);
      // The signing's threads are the process's: switched by the way each reads.
      (LEAF_HASH_THREADS as LeafHashThread[]).splice(0, 2, ...threads[way]);
      await signLeaves(file, 1, hashes, () => Promise.resolve());
    } else {
      const table = new SharedArrayBuffer(32 * Math.ceil(file.size / LEAF_BYTES));
      const state = new Int32Array(new SharedArrayBuffer(8));
      const fd = file.lendFd();
      try {
        const failed = await threads[way][0]!.hashFile(fd, file.size, 64 * LEAF_BYTES, table, state);
        if (failed !== undefined) throw new Error(failed);
      } finally {
        file.returnFd();
      }
    }
  } finally {
    await file.close();
  }
  return DIRECT_READ_COUNTERS.bytes - before;
}

const results: Record<Way, Array<{ wall: number; user: number; sys: number }>> = {
  direct: [],
  probed: [],
  buffered: [],
};
for (let run = 0; run < runs; run++) {
  for (const way of WAYS) {
    if (values.cold) {
      execFileSync('sync');
      writeFileSync('/proc/sys/vm/drop_caches', '3');
    } else
      await readFile(path).then(
        () => undefined,
        () => undefined,
      );
    const cpu = process.cpuUsage();
    const start = performance.now();
    const direct = await hashOnce(way);
    const wall = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    const result = { wall, user: used.user / 1e6, sys: used.system / 1e6 };
    results[way].push(result);
    console.log(
      JSON.stringify({ way, run, cold: values.cold, sign: values.sign, directBytes: direct, ...result }),
    );
  }
}
const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const way of WAYS) {
  const r = results[way];
  console.log(
    `${way} ${values.sign ? 'signLeaves' : 'hashFile'} ${values.size} ${values.cold ? 'cold' : 'cached'}: median wall ${median(r.map((x) => x.wall)).toFixed(2)} s, CPU user ${median(r.map((x) => x.user)).toFixed(2)} s sys ${median(r.map((x) => x.sys)).toFixed(2)} s`,
  );
}
await Promise.all(Object.values(threads).flatMap((two) => two.map((thread) => thread.close())));
if (dir !== undefined) await removeTempDir(dir);
