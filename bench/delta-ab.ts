// Question (issue 16): is build B's delta upload cheaper or faster than build A's? One old file on the
// server, replaced by an edited copy (`send --overwrite`): 1 MiB rewritten at 3 places (`--edit in-place`, the
// delta case's first edit) or 1 KiB inserted near the start (`--edit insert`). Runs A, B, A, B, ... back to
// back (load from others falls on both alike), each a fresh `ferry serve`, and prints per run the wall time
// and each side's CPU seconds by thread (from /proc/PID/task/*/stat, sampled while the client runs), then
// medians per variant.
//
//   npm run build && node --import tsx bench/delta-ab.ts --variant A=/path/to/old --variant B=. \
//     [--edit in-place|insert] [--size 256M] [--runs 3] [--profile DIR] [--direction upload|download] [--warm]
//
// --direction download: the client holds the old file and `get --overwrite`s the edited one. --warm: the
// receiver's old file is put there by ferry first (`send`, or `get`, of the old file through a server of its
// own, untimed), so a build that remembers the leaf hashes of files it wrote (issue 16) signs or scans warm.
//
// --no-delta: the same replacement sent whole (`--no-delta`): what a plain `--overwrite` pays at its end.
// --strace DIR: strace (-f -tt -T) attached to both processes, syncs, renames, links, unlinks and copies, one
// log per process and run in DIR: when each step of the critical path's end starts and how long it takes.
// --strace-calls LIST: the system calls traced instead (strace's `trace=` list: `pread64,pwritev,fdatasync`
// shows how often the old file is read and the partial written and synced, and in what sizes).
//
// Each run also splits the client's CPU by thread (`clientThreads`): main, its busiest other thread (a delta's
// leaf hash thread) and the rest (libuv's pool: the old file's reads, the partial's writes and syncs; V8's).
// --timeline: per 100 ms of the run, the CPU each side's main thread and its other threads used (in
// hundredths of a core; the client's busiest other thread, a delta's leaf hash thread, apart): which side
// works, which waits, and when.
//
// --server-threads N: `ferry serve --threads N` (by default the server's own choice: 1 below 4 cores, so
// without receive threads on a 2-core machine; `--server-threads 2` measures the threaded receive path).
//
// --profile DIR: both processes run with node's --cpu-prof, their profiles written to DIR; --node-arg ARG
// (repeated): more of node's flags for both (`--perf-basic-prof` for `perf record -p`).
//
// --drop-caches: the page cache dropped (`echo 3 > /proc/sys/vm/drop_caches`, root) right before each run,
// after its files were put in place (which leaves them cached: copied, then synced): both sides then read
// their file from the disk, as a file not touched lately is (issue 16: a read around the page cache).
//
// A variant is NAME=DIR, DIR a built work tree (its bin/ferry), '.' for this one as built now (snapshotted
// once, `bench/lib/ferry-snapshot.ts`); NAME=DIR,FLAG,... adds node flags for that variant's processes alone
// (`--variant A=. --variant B=.,--max-semi-space-size=32`: one build, two ways to run it). Linux only (/proc).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { copyFile, mkdir, open, rm, utimes } from 'node:fs/promises';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ferryEnv } from '../test/helpers/cli.js';
import { sha256File, writeRandomFile } from '../test/helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';
import { freePort } from '../scripts/cluster/free-port.js';
import { killTrackedOnExit, track } from './lib/child-registry.js';
import { FerryPeers } from './lib/ferry-peers.js';
import { snapshotFerry } from './lib/ferry-snapshot.js';
import { parseSize } from './lib/parse-size.js';
import { settleMemory } from './lib/settle-memory.js';
import { processThreadCpu } from './lib/thread-cpu.js';

const MIB = 2 ** 20;

const { values } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true, default: [] },
    edit: { type: 'string', default: 'in-place' },
    size: { type: 'string', default: '256M' },
    runs: { type: 'string', default: '3' },
    profile: { type: 'string' },
    'node-arg': { type: 'string', multiple: true, default: [] },
    direction: { type: 'string', default: 'upload' },
    warm: { type: 'boolean', default: false },
    'no-delta': { type: 'boolean', default: false },
    strace: { type: 'string' },
    'strace-calls': { type: 'string' },
    timeline: { type: 'boolean', default: false },
    'server-threads': { type: 'string' },
    'drop-caches': { type: 'boolean', default: false },
  },
});
if (values.edit !== 'in-place' && values.edit !== 'insert') throw new Error('--edit in-place|insert');
if (values.direction !== 'upload' && values.direction !== 'download')
  throw new Error('--direction upload|download');
const upload = values.direction === 'upload';
const STRACE_CALLS =
  values['strace-calls'] !== undefined
    ? `trace=${values['strace-calls']}`
    : 'trace=fdatasync,fsync,rename,renameat,renameat2,link,linkat,unlink,unlinkat,copy_file_range,exit_group';
/**
 * With --strace, attaches strace to process `pid` (and its threads) logging to DIR/`tag`; resolves once it
 * is attached (its banner). Attached rather than wrapping, so the pid whose threads are read stays node's.
 */
async function traced(pid: number, tag: string): Promise<ChildProcess | undefined> {
  if (!values.strace) return undefined;
  const tracer = track(
    spawn(
      'strace',
      ['-f', '-tt', '-T', '-e', STRACE_CALLS, '-o', join(values.strace, tag), '-p', String(pid)],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    ),
  );
  const attached = new Promise<void>((resolve) => tracer.stderr!.once('data', () => resolve()));
  await Promise.race([attached, once(tracer, 'exit')]);
  return tracer;
}
const size = parseSize(values.size);
const serveArgs = values['server-threads'] !== undefined ? ['--threads', values['server-threads']] : [];
const nodeArgs = [
  ...(values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : []),
  ...values['node-arg'],
];

/** Writes the edited copy of `old` to `next`, as bench/delta-cases.ts' edits do. */
async function makeEdit(old: string, next: string): Promise<void> {
  if (values.edit === 'in-place') {
    await copyFile(old, next);
    const file = await open(next, 'r+');
    for (const at of [size / 4, size / 2, (3 * size) / 4])
      await file.write(randomBytes(MIB), 0, MIB, Math.floor(at));
    await file.close();
    return;
  }
  const from = await open(old, 'r');
  const to = await open(next, 'w');
  const buffer = Buffer.allocUnsafe(8 * MIB);
  await from.read(buffer, 0, 10_000, 0);
  await to.write(buffer, 0, 10_000, 0);
  await to.write(randomBytes(1024), 0, 1024, 10_000);
  for (let at = 10_000, out = 11_024; ;) {
    const { bytesRead } = await from.read(buffer, 0, buffer.length, at);
    if (bytesRead === 0) break;
    await to.write(buffer, 0, bytesRead, out);
    at += bytesRead;
    out += bytesRead;
  }
  await from.close();
  await to.close();
}

const sum = (m: Map<string, number> | undefined, before?: Map<string, number>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [k, v] of m ?? []) out[k] = Number((v - (before?.get(k) ?? 0)).toFixed(2));
  return out;
};
/** CPU seconds of process `pid`: its main thread and all its other threads (0, 0 once it has ended). */
const mainAndRest = (pid: number): [number, number] => {
  const threads = processThreadCpu(pid);
  const main = threads?.get('main') ?? 0;
  let rest = 0;
  for (const [name, cpu] of threads ?? []) if (name !== 'main') rest += cpu;
  return [main, rest];
};
/**
 * CPU seconds of each thread of process `pid` by thread id (Node names nearly every thread "node"): with the
 * most each reached kept in `into`, the busiest one apart from the main thread is a delta's leaf hash thread.
 */
const threadsById = (pid: number, into: Map<number, number>): void => {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(fields[11]) + Number(fields[12])) / 100;
      into.set(Number(tid), Math.max(cpu, into.get(Number(tid)) ?? 0));
    } catch {
      // the thread ended meanwhile
    }
  }
};
/** The client's threads as main, its busiest other thread, and the rest (`threadsById`). */
const split = (pid: number, byId: Map<number, number>): Record<string, number> => {
  const others = [...byId].filter(([tid]) => tid !== pid).map(([, cpu]) => cpu);
  const busiest = Math.max(0, ...others);
  const rest = others.reduce((a, b) => a + b, 0) - busiest;
  return { main: byId.get(pid) ?? 0, busiest, rest: Number(rest.toFixed(2)) };
};
const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** One 100 ms bin of --timeline: the server's CPU in it, and the client's per thread so far (by id). */
interface Bin {
  at: number;
  ms: number;
  server: [number, number];
  client: Map<number, number>;
}

/**
 * The timeline in hundredths of a core per bin: the client's main thread, its busiest other thread over the
 * run (a delta's leaf hash thread) and the rest; the server's main thread and the rest.
 */
const formatTimeline = (bins: readonly Bin[], pid: number, byId: Map<number, number>): string => {
  const busiest = [...byId].filter(([tid]) => tid !== pid).sort((a, b) => b[1] - a[1])[0]?.[0];
  let before = new Map<number, number>();
  const lines = bins.map((bin) => {
    const pct = (cpu: number): number => Math.round((100 * cpu * 1000) / bin.ms);
    let main = 0;
    let hash = 0;
    let rest = 0;
    for (const [tid, cpu] of bin.client) {
      const used = cpu - (before.get(tid) ?? 0);
      if (tid === pid) main += used;
      else if (tid === busiest) hash += used;
      else rest += used;
    }
    before = bin.client;
    return `${bin.at.toFixed(1)}s c ${pct(main)}/${pct(hash)}/${pct(rest)} s ${pct(bin.server[0])}/${pct(bin.server[1])}`;
  });
  return `CPU per 100 ms, client main/busiest/rest server main/rest:\n${lines.join('\n')}`;
};

const dir = await makeTempDir('ferry-delta-ab-');
killTrackedOnExit();
try {
  const variants: { name: string; peers: FerryPeers; bin: string; nodeArgs: string[] }[] = [];
  let here: string | undefined;
  for (const spec of values.variant) {
    const eq = spec.indexOf('=');
    const [where = '.', ...flags] = spec.slice(eq + 1).split(',');
    // '.' is snapshotted once, however many variants run it.
    here ??= where === '.' ? await snapshotFerry(join(dir, 'cli-here')) : undefined;
    const bin = where === '.' ? here! : join(where, 'bin', 'ferry');
    const home = join(dir, `homes-${variants.length}`);
    await mkdir(home);
    variants.push({
      name: spec.slice(0, eq),
      bin,
      peers: await FerryPeers.create(bin, home),
      nodeArgs: [...nodeArgs, ...flags],
    });
  }
  const old = join(dir, 'old');
  const next = join(dir, 'next');
  /**
   * --warm: the receiver's old file put there by ferry (`send` of `old` into `root`, or `get` of it into
   * `local`), through a server of its own, untimed; its mtime set before, carried by the transfer.
   */
  const placeByFerry = async (
    v: (typeof variants)[number],
    up: boolean,
    root: string,
    local: string,
  ): Promise<void> => {
    const from = up ? join(dir, 'prepare-f') : join(root, 'f');
    await copyFile(old, from);
    await utimes(from, 1_600_000_000, 1_600_000_000);
    const address = `127.0.0.1:${await freePort()}`;
    const server = await v.peers.startServer(root, address, [], serveArgs);
    try {
      await v.peers.trust(address);
      const args = up ? ['send', '-q', from, `${address}/f`] : ['get', '-q', `${address}/f`, `${local}/`];
      const result = spawnSync(process.execPath, [v.bin, '--home', v.peers.clientHome, ...args], {
        env: ferryEnv(),
        encoding: 'utf8',
      });
      if (result.status !== 0) throw new Error(`warm-up ferry ${args[0]}: ${result.stderr}`);
    } finally {
      await server.stop();
      if (up) await rm(from, { force: true });
    }
  };
  await writeRandomFile(old, size);
  await makeEdit(old, next);
  const want = await sha256File(next);
  const runs: {
    variant: string;
    wall: number;
    client: Record<string, number>;
    clientThreads: Record<string, number>;
    server: Record<string, number>;
  }[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    for (const v of variants) {
      const root = join(dir, 'root');
      const local = join(dir, 'local');
      for (const place of [root, local]) {
        await rm(place, { recursive: true, force: true });
        await mkdir(place);
      }
      // The receiver's old file (older than the new one), and the sender's new one.
      const [held, sent] = upload ? [join(root, 'f'), join(local, 'f')] : [join(local, 'f'), join(root, 'f')];
      if (values.warm) await placeByFerry(v, upload, root, local);
      else {
        await copyFile(old, held);
        await utimes(held, 1_600_000_000, 1_600_000_000);
      }
      await copyFile(next, sent);
      spawnSync('sync');
      settleMemory();
      if (values['drop-caches']) writeFileSync('/proc/sys/vm/drop_caches', '3');
      const address = `127.0.0.1:${await freePort()}`;
      const server = await v.peers.startServer(root, address, v.nodeArgs, serveArgs);
      const tracers: (ChildProcess | undefined)[] = [];
      try {
        await v.peers.trust(address);
        tracers.push(await traced(server.pid, `${v.name}-${i}-server`));
        const serverBefore = processThreadCpu(server.pid);
        const started = performance.now();
        const startedAt = new Date().toISOString();
        const whole = values['no-delta'] ? ['--no-delta'] : [];
        const client = track(
          spawn(
            process.execPath,
            [
              ...v.nodeArgs,
              v.bin,
              '--home',
              v.peers.clientHome,
              ...(upload
                ? ['send', '-q', '--overwrite', ...whole, sent, `${address}/f`]
                : ['get', '-q', '--overwrite', ...whole, `${address}/f`, `${local}/`]),
            ],
            {
              stdio: ['ignore', 'ignore', 'pipe'],
              env: ferryEnv(),
            },
          ),
        );
        tracers.push(await traced(client.pid!, `${v.name}-${i}-client`));
        let stderr = '';
        client.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
        const exited = once(client, 'exit');
        let done = false;
        void exited.then(() => (done = true));
        const clientThreads = new Map<string, number>();
        const clientById = new Map<number, number>();
        const timeline: Bin[] = [];
        let binStart = performance.now();
        let binBefore = mainAndRest(server.pid);
        while (!done) {
          if (values.timeline && performance.now() - binStart >= 100) {
            threadsById(client.pid!, clientById);
            const now = mainAndRest(server.pid);
            timeline.push({
              at: (binStart - started) / 1000,
              ms: performance.now() - binStart,
              server: [now[0] - binBefore[0], now[1] - binBefore[1]],
              client: new Map(clientById),
            });
            binStart = performance.now();
            binBefore = now;
          }
          // The most each name reached: threads that end before the process (a worker, at exit) keep theirs.
          for (const [name, cpu] of processThreadCpu(client.pid!) ?? [])
            clientThreads.set(name, Math.max(cpu, clientThreads.get(name) ?? 0));
          threadsById(client.pid!, clientById);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const wall = (performance.now() - started) / 1000;
        if (values.timeline) console.log(formatTimeline(timeline, client.pid!, clientById));
        const [code] = (await exited) as [number | null];
        if (code !== 0) throw new Error(`ferry ${values.direction} exited ${code}: ${stderr.trim()}`);
        const run = {
          variant: v.name,
          wall: Number(wall.toFixed(3)),
          ...(values.strace ? { startedAt } : {}),
          client: sum(clientThreads),
          clientThreads: split(client.pid!, clientById),
          server: sum(processThreadCpu(server.pid), serverBefore),
        };
        if ((await sha256File(held)) !== want) throw new Error('the replaced file differs');
        runs.push(run);
        console.log(JSON.stringify(run));
      } finally {
        await server.stop();
        for (const tracer of tracers) if (tracer && tracer.exitCode === null) await once(tracer, 'exit');
      }
    }
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  for (const v of variants) {
    const mine = runs.filter((r) => r.variant === v.name);
    const m = (f: (r: (typeof mine)[0]) => number) => median(mine.map(f)).toFixed(2);
    console.log(
      `${v.name} delta ${values.direction}${values.warm ? ' warm' : ''} ${values.edit} ${values.size}: median wall ${m((r) => r.wall)} s, CPU s client ` +
        `${m((r) => total(r.client))} (main ${m((r) => r.client['main'] ?? 0)}) server ${m((r) => total(r.server))} ` +
        `(main ${m((r) => r.server['main'] ?? 0)}); client busiest other thread ${m((r) => r.clientThreads['busiest']!)}, ` +
        `the rest ${m((r) => r.clientThreads['rest']!)}`,
    );
  }
} finally {
  await removeTempDir(dir);
}
