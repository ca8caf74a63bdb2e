// A quick look at one side of the pipeline case (bench/lib/pipeline-case.ts) at 1 and 2 threads, for loops
// while working on the pool: `npx tsx bench/pipeline-probe.ts send|receive [MiB] [runs]`. Prints CPU s/GiB per
// thread and each event loop's busy share; the bench's `--cases pipeline` is the measurement of record.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { measureReceive, measureSend, perGiB, writeSourceFile } from './lib/pipeline-case.js';

const side = process.argv[2] === 'receive' ? 'receive' : 'send';
const bytes = Number(process.argv[3] ?? 512) * 2 ** 20;
const runs = Number(process.argv[4] ?? 2);
const threadCounts = (process.argv[5] ?? '1,2').split(',').map(Number);
const dir = join(tmpdir(), `ferry-pipeline-probe-${process.pid}`);
await mkdir(dir, { recursive: true });
try {
  const source = join(dir, 'source.bin');
  if (side === 'send') await writeSourceFile(source, bytes);
  for (let run = 0; run < runs; run++) {
    for (const threads of threadCounts) {
      const m =
        side === 'send'
          ? await measureSend(source, threads)
          : await measureReceive(join(dir, 'receive'), bytes, threads);
      const t = m.threads;
      console.log(
        JSON.stringify({
          side,
          threads,
          wallMs: Math.round(m.wallMs),
          cpu: perGiB(m.cpuSeconds, bytes),
          main: perGiB(t.main, bytes),
          workers: t.workers.filter((s) => s > 0).map((s) => perGiB(s, bytes)),
          libuv: perGiB(t.libuv, bytes),
          other: perGiB(t.other, bytes),
          busyMain: Math.round(m.busy.main * 100) / 100,
          busyWorkers: m.busy.workers.map((b) => Math.round(b * 100) / 100),
        }),
      );
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
