// Question (issue 14, the idle gaps): while one large file moves over loopback, how often is NEITHER ferry
// process doing anything (no thread of the client or the server running or runnable), and what is each one
// waiting on then? A transfer bound by CPU on two shared cores is only as fast as the total CPU over two if
// the ends never wait on each other at once; this measures how far from that a run is, and why.
//
//   npm run build && node --import tsx bench/off-cpu.ts [--direction upload|download] [--size 256M] [--runs 1]
//     [--cli DIR]   (DIR: another built checkout to run instead of this work tree's snapshot)
//
// Every ~1 ms it reads /proc/PID/task/*/stat of both processes (state R running or runnable, S sleeping,
// D uninterruptible: disk) and, for a thread not running, /proc/PID/task/TID/wchan (the kernel function it
// sleeps in: do_epoll_wait is an event loop with nothing to do, futex_do_wait a thread waiting on another,
// folio_wait_bit or submit_bio_wait disk I/O). A sample is "both idle" when no thread of either process is
// R: that holds whatever else loads the machine (runnable counts as busy), so unlike wall time it can be
// read on a loaded machine; what cannot be seen is time a thread spent runnable but not running, and waits
// shorter than the sampling period. Prints one JSON line per run, then a summary. Linux only.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import { link, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ferryEnv } from '../test/helpers/cli.js';
import { writeRandomFile } from '../test/helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';
import { killTrackedOnExit, track } from './lib/child-registry.js';
import { FerryPeers } from './lib/ferry-peers.js';
import { snapshotFerry } from './lib/ferry-snapshot.js';
import { freePort } from '../scripts/cluster/free-port.js';
import { parseSize } from './lib/parse-size.js';
import { readProcCpu } from './lib/proc-stats.js';

const TICKS_PER_SECOND = 100;
const GIB = 2 ** 30;

interface Thread {
  state: string;
  /** Where it sleeps ('' when running). */
  wchan: string;
  cpuSeconds: number;
}

/** Every thread of `pid` by thread id, or undefined once the process is gone. */
function threadsOf(pid: number): Map<number, Thread> | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const out = new Map<number, Thread>();
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // proc(5): after "pid (comm) " come state (field 3), ..., utime (14) and stime (15).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const state = fields[0]!;
      const wchan = state === 'R' ? '' : readFileSync(`/proc/${pid}/task/${tid}/wchan`, 'utf8');
      out.set(Number(tid), {
        state,
        wchan: wchan === '0' ? '' : wchan,
        cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
      });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** What one side was doing in a sample where nothing of either side ran: its main thread's wait, and any disk waits. */
function waitOf(pid: number, threads: Map<number, Thread>): string {
  const main = threads.get(pid);
  const disk = [...threads.entries()]
    .filter(([, t]) => t.state === 'D')
    .map(([tid, t]) => `${tid === pid ? 'main' : 'thread'} D ${t.wchan}`);
  return [`main ${main?.state ?? '?'} ${main?.wchan ?? ''}`.trim(), ...new Set(disk)].join(', ');
}

interface RunResult {
  direction: string;
  bytes: number;
  wallSeconds: number;
  samples: number;
  /** Samples in which no thread of either process was running or runnable. */
  bothIdle: number;
  /** Of those, samples in which some thread of either side waited on the disk (state D). */
  bothIdleDisk: number;
  /** Samples with the client's / the server's main thread not runnable. */
  clientMainWaiting: number;
  serverMainWaiting: number;
  /**
   * Samples with both main threads runnable (running, or waiting only for a core): the two ends working at
   * once. Unlike wall time this does not fall when others load the machine, so it tells two builds apart
   * there: the lower it is, the more the ends take turns instead of overlapping.
   */
  bothMainsRunnable: number;
  /** CPU seconds per GiB moved: the client's whole process (its start included: ~0.18 s here), the server's session. */
  clientCpuPerGiB: number;
  serverCpuPerGiB: number;
  /** Of those, the main thread's (the event loop's); the rest is libuv's pool and V8's threads. */
  clientMainCpuPerGiB: number;
  serverMainCpuPerGiB: number;
  /** Sampling's own CPU seconds (this process), to judge how much it disturbed the run. */
  samplerCpuSeconds: number;
  /** The most frequent (client wait | server wait) pairs among the both-idle samples, with their share of all samples. */
  bothIdleWaits: Array<[string, number]>;
}

async function runOnce(peers: FerryPeers, dir: string, direction: string, size: number): Promise<RunResult> {
  const root = join(dir, `root-${Date.now()}`);
  await mkdir(join(root, 'dl'), { recursive: true });
  const dest = join(dir, `dest-${Date.now()}`);
  await mkdir(dest);
  const source = join(dir, 'source');
  if (direction === 'download') await link(source, join(root, 'dl', 'f'));
  const address = `127.0.0.1:${await freePort()}`;
  const server = await peers.startServer(root, address);
  try {
    await peers.trust(address);
    const args =
      direction === 'upload'
        ? ['send', '-q', '--mkdir', source, `${address}/up/`]
        : ['get', '-q', '--mkdir', `${address}/dl/f`, `${dest}/`];
    const [command, full] = peers.clientCommand(args);
    const serverBefore = (await readProcCpu(server.pid))?.selfSeconds ?? 0;
    const serverMainBefore = threadsOf(server.pid)?.get(server.pid)?.cpuSeconds ?? 0;
    const samplerBefore = process.cpuUsage();
    const started = performance.now();
    const client = track(spawn(command, full, { stdio: ['ignore', 'ignore', 'pipe'], env: ferryEnv() }));
    let stderr = '';
    client.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4096)));
    const exited = once(client, 'exit');
    const pid = client.pid!;
    let clientCpu = 0;
    let clientMainCpu = 0;
    const r = {
      samples: 0,
      bothIdle: 0,
      bothIdleDisk: 0,
      clientMainWaiting: 0,
      serverMainWaiting: 0,
      bothMainsRunnable: 0,
    };
    const pairs = new Map<string, number>();
    let done = false;
    void exited.then(() => (done = true));
    while (!done) {
      const c = threadsOf(pid);
      const s = threadsOf(server.pid);
      if (c && s && c.size > 0) {
        // Sampled while the client lives: its last sample is within a millisecond or so of its exit.
        clientCpu = (await readProcCpu(pid))?.selfSeconds ?? clientCpu;
        clientMainCpu = c.get(pid)?.cpuSeconds ?? clientMainCpu;
        r.samples++;
        const all = [...c.values(), ...s.values()];
        if (c.get(pid)?.state !== 'R') r.clientMainWaiting++;
        if (s.get(server.pid)?.state !== 'R') r.serverMainWaiting++;
        if (c.get(pid)?.state === 'R' && s.get(server.pid)?.state === 'R') r.bothMainsRunnable++;
        if (!all.some((t) => t.state === 'R')) {
          r.bothIdle++;
          if (all.some((t) => t.state === 'D')) r.bothIdleDisk++;
          const key = `${waitOf(pid, c)} | ${waitOf(server.pid, s)}`;
          pairs.set(key, (pairs.get(key) ?? 0) + 1);
        }
      }
      // ~1 ms between samples, yielding so the exit event can land.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const wallSeconds = (performance.now() - started) / 1000;
    const [code] = (await exited) as [number | null];
    if (code !== 0) throw new Error(`ferry ${args[0]} exited ${code}: ${stderr.trim()}`);
    const samplerUsage = process.cpuUsage(samplerBefore);
    const serverCpu = ((await readProcCpu(server.pid))?.selfSeconds ?? 0) - serverBefore;
    const serverMainCpu = (threadsOf(server.pid)?.get(server.pid)?.cpuSeconds ?? 0) - serverMainBefore;
    const n = Math.max(1, r.samples);
    return {
      direction,
      bytes: size,
      wallSeconds,
      ...r,
      clientCpuPerGiB: (clientCpu * GIB) / size,
      serverCpuPerGiB: (serverCpu * GIB) / size,
      clientMainCpuPerGiB: (clientMainCpu * GIB) / size,
      serverMainCpuPerGiB: (serverMainCpu * GIB) / size,
      samplerCpuSeconds: (samplerUsage.user + samplerUsage.system) / 1e6,
      bothIdleWaits: [...pairs.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 8)
        .map(([key, count]) => [key, Number(((100 * count) / n).toFixed(2))]),
    };
  } finally {
    await server.stop();
  }
}

const { values } = parseArgs({
  options: {
    direction: { type: 'string', default: 'upload' },
    size: { type: 'string', default: '256M' },
    runs: { type: 'string', default: '1' },
    /** A built copy of the CLI to run (a worktree of another commit, built) instead of this work tree's. */
    cli: { type: 'string' },
  },
});
if (values.direction !== 'upload' && values.direction !== 'download') {
  throw new Error('--direction is upload or download');
}
const size = parseSize(values.size);
const dir = await makeTempDir('ferry-bench-off-cpu-');
killTrackedOnExit();
try {
  const bin =
    values.cli === undefined ? await snapshotFerry(join(dir, 'cli')) : join(values.cli, 'bin', 'ferry');
  const peers = await FerryPeers.create(bin, dir);
  await writeRandomFile(join(dir, 'source'), size);
  for (let run = 0; run < Number(values.runs); run++) {
    const result = await runOnce(peers, dir, values.direction, size);
    console.log(JSON.stringify({ bench: 'ferry-off-cpu', ...result }));
    const pct = (k: number): string => `${((100 * k) / Math.max(1, result.samples)).toFixed(1)} %`;
    console.log(
      `${result.direction} ${values.size}: ${result.wallSeconds.toFixed(2)} s, CPU s/GiB client ${result.clientCpuPerGiB.toFixed(2)} (main ${result.clientMainCpuPerGiB.toFixed(2)}) / server ${result.serverCpuPerGiB.toFixed(2)} (main ${result.serverMainCpuPerGiB.toFixed(2)}); ` +
        `${result.samples} samples: both idle ${pct(result.bothIdle)} (disk wait among them ${pct(result.bothIdleDisk)}); ` +
        `main thread waiting: client ${pct(result.clientMainWaiting)}, server ${pct(result.serverMainWaiting)}; ` +
        `both main threads runnable ${pct(result.bothMainsRunnable)}; sampler ${result.samplerCpuSeconds.toFixed(2)} CPU s`,
    );
    for (const [key, share] of result.bothIdleWaits) console.log(`  ${share.toFixed(2)} %  ${key}`);
  }
} finally {
  await removeTempDir(dir);
}
