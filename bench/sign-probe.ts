// Question (issue 16): how fast is the server's signing of a delta (`signLeaves`) alone, in one process with
// nothing else running, and which of its threads works when? Signs one cached file (written once, read a
// first time untimed) `runs` times and prints per run the wall time and the CPU seconds of the main thread,
// the two busiest others (the leaf hash threads) and the rest (libuv's pool: the reads; V8's).
//
//   node --import tsx bench/sign-probe.ts [--size 1G] [--runs 3] [--file PATH] [--timeline] \
//     [--variant A=/path/to/old --variant B=.]
//
// --variant NAME=DIR (repeated): the signing of DIR's sources (a work tree), the variants' runs alternated
// (A, B, A, B, ...) in this one process, so load from others falls on both alike; this tree's by default.
// NAME=DIR@N: with only the first N of its leaf hash threads (LEAF_HASH_THREADS), e.g. B1=.@1 B2=.@2.
// --timeline: per 100 ms, the CPU each of those used (hundredths of a core: main/busiest/next/rest).
// Linux only (/proc).
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { writeRandomFile } from '../test/helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';
import { parseSize } from './lib/parse-size.js';
import { threadCpuSeconds } from './lib/thread-cpu.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    runs: { type: 'string', default: '3' },
    file: { type: 'string' },
    timeline: { type: 'boolean', default: false },
    variant: { type: 'string', multiple: true, default: [] },
  },
});

type Transfer = typeof import('../src/transfer/index.js');
type Protocol = typeof import('../src/protocol/index.js');
const variants: { name: string; transfer: Transfer; protocol: Protocol; threads?: number }[] = [];
for (const spec of values.variant.length > 0 ? values.variant : ['here=.']) {
  const [name, at] = spec.split('=') as [string, string];
  const [dir, threads] = at.split('@') as [string, string | undefined];
  const from = (module: string): string => pathToFileURL(resolve(dir, 'src', module, 'index.ts')).href;
  variants.push({
    name,
    transfer: (await import(from('transfer'))) as Transfer,
    protocol: (await import(from('protocol'))) as Protocol,
    ...(threads === undefined ? {} : { threads: Number(threads) }),
  });
}

/** The leaf hash threads a variant signs on (a build before LEAF_HASH_THREADS has one). */
const threadsOf = (transfer: Transfer): readonly { warm(): void; close(): Promise<void> }[] =>
  (transfer as Partial<Transfer>).LEAF_HASH_THREADS ?? [transfer.LEAF_HASH_THREAD];
/** Each module's threads as loaded, so a variant @N signs on the first N and the next one on all again. */
const allThreads = new Map(variants.map(({ transfer }) => [transfer, [...threadsOf(transfer)]]));

/** CPU seconds since `before` of the main thread, the two busiest others (the leaf hash threads), the rest. */
function split(before: Map<number, number>): { main: number; hash: number[]; rest: number } {
  const after = threadCpuSeconds();
  const used = [...after].map(([tid, s]) => [tid, s - (before.get(tid) ?? 0)] as const);
  const main = used.find(([tid]) => tid === process.pid)?.[1] ?? 0;
  const others = used
    .filter(([tid]) => tid !== process.pid)
    .map(([, s]) => s)
    .sort((a, b) => b - a);
  const hash = others.slice(0, 2);
  const rest = others.slice(2).reduce((a, b) => a + b, 0);
  return { main, hash, rest };
}

const round = (s: number): number => Math.round(s * 100) / 100;
const dir = values.file === undefined ? await makeTempDir('ferry-sign-probe-') : undefined;
try {
  const path = values.file ?? join(dir!, 'old.bin');
  if (values.file === undefined) await writeRandomFile(path, parseSize(values.size));
  // Into the page cache, as the bench's files are.
  if (values.file === undefined) await readFile(path).then(() => undefined);
  // Every thread a variant signs on is started before its first run, as a server starts them.
  for (const { transfer } of variants) threadsOf(transfer).forEach((thread) => thread.warm());
  for (let i = 0; i < Number(values.runs) * variants.length; i++) {
    const run = Math.floor(i / variants.length);
    const { name, transfer, protocol, threads } = variants[i % variants.length]!;
    const all = allThreads.get(transfer)!;
    // The module's own array, cut to the variant's first N threads for this run (bench only).
    const used = threadsOf(transfer) as unknown[];
    used.splice(0, used.length, ...all.slice(0, threads ?? all.length));
    const { SIGNING_COUNTERS, SourceFile, signLeaves } = transfer;
    const { ChunkHashes, LEAF_BYTES } = protocol;
    const source = await SourceFile.open(path, { noFollow: true });
    const hashes = new ChunkHashes(source.size, LEAF_BYTES);
    const before = threadCpuSeconds();
    const readsBefore = SIGNING_COUNTERS.readLeaves;
    const timeline: string[] = [];
    let last = threadCpuSeconds();
    const tick = values.timeline
      ? setInterval(() => {
          const s = split(last);
          last = threadCpuSeconds();
          timeline.push([s.main, ...s.hash, s.rest].map((x) => Math.round(x * 100)).join('/'));
        }, 100)
      : undefined;
    const started = performance.now();
    let records = 0;
    await signLeaves(source, 1, hashes, () => {
      records++;
      return Promise.resolve();
    });
    const wall = (performance.now() - started) / 1000;
    clearInterval(tick);
    const cpu = split(before);
    await source.close();
    console.log(
      JSON.stringify({
        variant: name,
        run,
        wallS: round(wall),
        GBps: round(source.size / wall / 1e9),
        main: round(cpu.main),
        hash: cpu.hash.map(round),
        rest: round(cpu.rest),
        records,
        readLeaves: SIGNING_COUNTERS.readLeaves - readsBefore,
        ...(values.timeline ? { timeline: timeline.join(' ') } : {}),
      }),
    );
  }
} finally {
  for (const threads of allThreads.values()) for (const thread of threads) await thread.close();
  if (dir !== undefined) await removeTempDir(dir);
}
