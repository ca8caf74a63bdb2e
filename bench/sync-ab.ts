// Question (issue 16): is build B's `ferry sync` of a tree cheaper or faster than build A's? The bench's sync
// tree (bench/sync-tree-case.ts: 1,000 files of 4-64 KiB, 10 of them changed a little between syncs), mirrored
// onto a fresh `ferry serve` of each build: the first full copy, a re-sync after the change, and a re-sync of
// the unchanged tree, as the bench case runs them. Runs A, B, B, A, A, B, ... back to back (load from others
// falls on both alike; the order alternates, as the second of a pair runs slower) and prints per phase the
// client's wall time and CPU seconds (all threads, from /proc/PID/task/*/stat sampled while it runs) and the
// server's CPU seconds in that phase, then medians.
//
//   npm run build && node --import tsx bench/sync-ab.ts --variant A=/path/to/old --variant B=. \
//     [--runs 3] [--files 1000] [--direction up|down] [--profile DIR]
//
// --direction down: the server holds SRC (the tree copied into its root) and the client's DST is synced
// from it. --profile DIR: the clients run with node's --cpu-prof, their profiles written to
// DIR/<variant>/<phase>, and the server's (one over the three phases) to DIR/<variant>/server. A variant is NAME=DIR, DIR a built work tree (its bin/ferry), '.' for this one as built now (snapshotted
// once, `bench/lib/ferry-snapshot.ts`). Linux only (/proc).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ferryEnv } from '../test/helpers/cli.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';
import { freePort } from '../scripts/cluster/free-port.js';
import { killTrackedOnExit, track } from './lib/child-registry.js';
import { FerryPeers, type FerryServer } from './lib/ferry-peers.js';
import { snapshotFerry } from './lib/ferry-snapshot.js';
import { median } from './lib/median.js';
import { processThreadCpu } from './lib/thread-cpu.js';
import { changeTreeFiles, sameTreeContent, writeSyncTree } from './sync-tree-case.js';

const { values } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true, default: [] },
    runs: { type: 'string', default: '3' },
    files: { type: 'string', default: '1000' },
    direction: { type: 'string', default: 'up' },
    profile: { type: 'string' },
  },
});
if (values.direction !== 'up' && values.direction !== 'down') throw new Error('--direction up|down');
const down = values.direction === 'down';

const PHASES = ['full', 'changed', 'unchanged'] as const;
type Phase = (typeof PHASES)[number];
interface Sample {
  variant: string;
  phase: Phase;
  wallMs: number;
  clientCpu: number;
  serverCpu: number;
}

const cpuOf = (threads: Map<string, number> | undefined): number =>
  [...(threads ?? new Map<string, number>()).values()].reduce((a, b) => a + b, 0);

/** Runs `ferry sync` once in a variant and measures it. */
async function runSync(
  v: { name: string; bin: string; peers: FerryPeers },
  server: FerryServer,
  args: readonly string[],
  phase: Phase,
): Promise<Sample> {
  const nodeArgs = values.profile
    ? // One directory per phase, node's own names in it: a worker thread writes its own profile, which a
      // --cpu-prof-name given here would overwrite the main thread's with.
      ['--cpu-prof', `--cpu-prof-dir=${join(values.profile, v.name, phase)}`]
    : [];
  const serverBefore = cpuOf(processThreadCpu(server.pid));
  const started = performance.now();
  const client = track(
    spawn(process.execPath, [...nodeArgs, v.bin, '--home', v.peers.clientHome, 'sync', '-q', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: ferryEnv(),
    }),
  );
  let stderr = '';
  client.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = once(client, 'exit');
  let done = false;
  void exited.then(() => (done = true));
  const threads = new Map<string, number>();
  while (!done) {
    // The most each thread name reached: threads that end before the process keep theirs.
    for (const [name, cpu] of processThreadCpu(client.pid!) ?? [])
      threads.set(name, Math.max(cpu, threads.get(name) ?? 0));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const wallMs = performance.now() - started;
  const [code] = (await exited) as [number | null];
  if (code !== 0) throw new Error(`${v.name}: ferry sync (${phase}) exited ${code}: ${stderr.trim()}`);
  return {
    variant: v.name,
    phase,
    wallMs: Math.round(wallMs),
    clientCpu: Number(cpuOf(threads).toFixed(2)),
    serverCpu: Number((cpuOf(processThreadCpu(server.pid)) - serverBefore).toFixed(2)),
  };
}

const dir = await makeTempDir('ferry-sync-ab-');
killTrackedOnExit();
try {
  const variants: { name: string; peers: FerryPeers; bin: string }[] = [];
  for (const spec of values.variant) {
    const eq = spec.indexOf('=');
    const where = spec.slice(eq + 1);
    const bin = where === '.' ? await snapshotFerry(join(dir, 'cli-here')) : join(where, 'bin', 'ferry');
    const home = join(dir, `homes-${variants.length}`);
    await mkdir(home);
    variants.push({ name: spec.slice(0, eq), bin, peers: await FerryPeers.create(bin, home) });
  }
  const src = join(dir, 'src');
  const files = await writeSyncTree(src, Number(values.files));
  const samples: Sample[] = [];
  for (let run = 0; run < Number(values.runs); run++) {
    const servers = new Map<string, { server: FerryServer; address: string }>();
    try {
      // Every variant's full copy, then the same change, then every variant's re-syncs.
      for (const phase of PHASES) {
        if (phase === 'changed') await changeTreeFiles(files, run);
        // The order alternates between runs: the second of a pair ran measurably slower (the first's file
        // writes still being written back, its server's exit), whichever build it was.
        for (const v of run % 2 === 0 ? variants : [...variants].reverse()) {
          const root = join(dir, `root-${v.name}`);
          const local = join(dir, `local-${v.name}`);
          if (phase === 'full') {
            await rm(root, { recursive: true, force: true });
            await rm(local, { recursive: true, force: true });
            await mkdir(root);
            const address = `127.0.0.1:${await freePort()}`;
            // Profiled, the server too: one profile over all three phases, written as it stops.
            const serverArgs = values.profile
              ? ['--cpu-prof', `--cpu-prof-dir=${join(values.profile, v.name, 'server')}`]
              : [];
            servers.set(v.name, { server: await v.peers.startServer(root, address, serverArgs), address });
            await v.peers.trust(address);
          }
          // Downloading, the server's copy of SRC is updated outside ferry (as a user's edit there would be).
          if (down && phase !== 'unchanged')
            await cp(src, join(root, 'src'), { recursive: true, preserveTimestamps: true });
          const { server, address } = servers.get(v.name)!;
          const args = down ? [`${address}/src`, local] : [src, `${address}/mirror`];
          const sample = await runSync(v, server, args, phase);
          samples.push(sample);
          console.log(JSON.stringify(sample));
          if (phase !== 'full') await sameTreeContent(files, src, down ? local : join(root, 'mirror'));
        }
      }
    } finally {
      for (const { server } of servers.values()) await server.stop();
    }
  }
  for (const phase of PHASES)
    for (const v of variants) {
      const mine = samples.filter((s) => s.variant === v.name && s.phase === phase);
      const m = (f: (s: Sample) => number): string => String(Number(median(mine.map(f)).toFixed(2)));
      console.log(
        `${v.name} ${values.direction} ${phase}: median wall ${m((s) => s.wallMs)} ms, CPU s client ` +
          `${m((s) => s.clientCpu)} server ${m((s) => s.serverCpu)} (${mine.length} runs)`,
      );
    }
} finally {
  await removeTempDir(dir);
}
