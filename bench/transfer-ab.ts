// Question (issue 14, the real transfer): is build B cheaper or faster than build A on one large file over
// loopback, or is one `--threads` setting better than another? Runs A, B, A, B, ... back to back (so load
// from others falls on both alike), each a fresh `ferry serve` and one `send` or `get`, and prints per run the
// wall time and CPU seconds per GiB of each side, each side's CPU split by thread (the main thread, the
// libuv pool, V8's, the pool's workers, read from /proc/PID/task/*/stat), then medians per variant.
//
//   npm run build && node --import tsx bench/transfer-ab.ts --variant A=/path/to/snapA \
//     --variant 'B=/path/to/snapB|--threads 2|--threads 2' [--direction upload|download] [--size 256M] [--runs 3]
//
// A variant is NAME=DIR[|CLIENT ARGS[|SERVER ARGS[|NODE ARGS]]] (NODE ARGS: node's own options, both sides), DIR a copy of the CLI (`bench/lib/ferry-snapshot.ts`:
// dist/, bin/, package.json, node_modules linked; '.' for this work tree's as built now, snapshotted once).
// Both sides of a variant run its DIR. Linux only (/proc).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { link, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ferryEnv } from '../test/helpers/cli.js';
import { writeRandomFile } from '../test/helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';
import { killTrackedOnExit, killTree, track } from './lib/child-registry.js';
import { FerryPeers } from './lib/ferry-peers.js';
import { snapshotFerry } from './lib/ferry-snapshot.js';
import { freePort } from '../scripts/cluster/free-port.js';
import { parseSize } from './lib/parse-size.js';
import { readProcCpu } from './lib/proc-stats.js';
import { processThreadCpu } from './lib/thread-cpu.js';

const GIB = 2 ** 30;
const SERVE_DEADLINE_MS = 60_000;

interface Variant {
  name: string;
  bin: string;
  clientArgs: string[];
  serverArgs: string[];
  /** Node's own options before the script (e.g. V8 flags), for both sides. */
  nodeArgs: string[];
  peers: FerryPeers;
}

async function startServer(v: Variant, root: string, address: string): Promise<ChildProcess> {
  const args = [v.bin, '--home', v.peers.serverHome, 'serve', '--root', root, '--listen', address];
  args.push('--log-level', 'warn', ...v.serverArgs);
  const child = track(
    spawn(process.execPath, [...v.nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: ferryEnv() }),
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-8192)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not listen: ${stderr}`)), SERVE_DEADLINE_MS);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (/^\s*listen:\s+\S+/.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`serve exited: ${stderr}`));
    });
  });
  return child;
}

interface Run {
  variant: string;
  wall: number;
  client: number;
  server: number;
  clientThreads: Record<string, number>;
  serverThreads: Record<string, number>;
}

function perGiB(
  m: Map<string, number>,
  before: Map<string, number> | undefined,
  size: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of m) out[k] = Number((((v - (before?.get(k) ?? 0)) * GIB) / size).toFixed(2));
  return out;
}

async function runOnce(v: Variant, dir: string, direction: string, size: number): Promise<Run> {
  const root = join(dir, `root-${v.name}`);
  const dest = join(dir, `dest-${v.name}`);
  await rm(root, { recursive: true, force: true });
  await rm(dest, { recursive: true, force: true });
  await mkdir(join(root, 'dl'), { recursive: true });
  await mkdir(join(root, 'up'), { recursive: true });
  await mkdir(dest);
  const source = join(dir, 'source');
  if (direction === 'download') await link(source, join(root, 'dl', 'f'));
  const address = `127.0.0.1:${await freePort()}`;
  const server = await startServer(v, root, address);
  try {
    await v.peers.trust(address);
    const args =
      direction === 'upload'
        ? ['send', '-q', '--mkdir', ...v.clientArgs, source, `${address}/up/`]
        : ['get', '-q', '--mkdir', ...v.clientArgs, `${address}/dl/f`, `${dest}/`];
    const serverPid = server.pid!;
    const serverBefore = (await readProcCpu(serverPid))?.selfSeconds ?? 0;
    const serverThreadsBefore = processThreadCpu(serverPid);
    const started = performance.now();
    const client = track(
      spawn(process.execPath, [...v.nodeArgs, v.bin, '--home', v.peers.clientHome, ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: ferryEnv(),
      }),
    );
    let stderr = '';
    client.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4096)));
    const exited = once(client, 'exit');
    let done = false;
    void exited.then(() => (done = true));
    let clientCpu = 0;
    let clientThreads = new Map<string, number>();
    while (!done) {
      clientCpu = (await readProcCpu(client.pid!))?.selfSeconds ?? clientCpu;
      clientThreads = processThreadCpu(client.pid!) ?? clientThreads;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const wall = (performance.now() - started) / 1000;
    const [code] = (await exited) as [number | null];
    if (code !== 0) throw new Error(`ferry ${args[0]} exited ${code}: ${stderr.trim()}`);
    const serverCpu = ((await readProcCpu(serverPid))?.selfSeconds ?? 0) - serverBefore;
    return {
      variant: v.name,
      wall: Number(wall.toFixed(3)),
      client: Number(((clientCpu * GIB) / size).toFixed(2)),
      server: Number(((serverCpu * GIB) / size).toFixed(2)),
      clientThreads: perGiB(clientThreads, undefined, size),
      serverThreads: perGiB(processThreadCpu(serverPid) ?? new Map(), serverThreadsBefore, size),
    };
  } finally {
    server.kill('SIGTERM');
    const deadline = setTimeout(() => killTree(server.pid!), 10_000);
    if (server.exitCode === null && server.signalCode === null) await once(server, 'exit');
    clearTimeout(deadline);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const { values } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true, default: [] },
    direction: { type: 'string', default: 'upload' },
    size: { type: 'string', default: '256M' },
    runs: { type: 'string', default: '3' },
  },
});
if (values.direction !== 'upload' && values.direction !== 'download')
  throw new Error('--direction upload|download');
const size = parseSize(values.size);
const dir = await makeTempDir('ferry-bench-ab-');
killTrackedOnExit();
try {
  const variants: Variant[] = [];
  let here: string | undefined;
  for (const spec of values.variant) {
    const eq = spec.indexOf('=');
    const [where, clientArgs = '', serverArgs = '', nodeArgs = ''] = spec.slice(eq + 1).split('|');
    let bin: string;
    if (where === '.') bin = here ??= await snapshotFerry(join(dir, 'cli-here'));
    else bin = join(where!, 'bin', 'ferry');
    const home = join(dir, `homes-${variants.length}`);
    await mkdir(home);
    variants.push({
      name: spec.slice(0, eq),
      bin,
      clientArgs: clientArgs.split(' ').filter(Boolean),
      serverArgs: serverArgs.split(' ').filter(Boolean),
      nodeArgs: nodeArgs.split(' ').filter(Boolean),
      peers: await FerryPeers.create(bin, home),
    });
  }
  await writeRandomFile(join(dir, 'source'), size);
  const runs: Run[] = [];
  for (let i = 0; i < Number(values.runs); i++) {
    for (const v of variants) {
      const r = await runOnce(v, dir, values.direction, size);
      runs.push(r);
      console.log(JSON.stringify(r));
    }
  }
  for (const v of variants) {
    const mine = runs.filter((r) => r.variant === v.name);
    console.log(
      `${v.name} ${values.direction} ${values.size}: median wall ${median(mine.map((r) => r.wall)).toFixed(2)} s, ` +
        `CPU s/GiB client ${median(mine.map((r) => r.client)).toFixed(2)} server ${median(mine.map((r) => r.server)).toFixed(2)} ` +
        `(client main ${median(mine.map((r) => r.clientThreads['main'] ?? 0)).toFixed(2)}, server main ${median(mine.map((r) => r.serverThreads['main'] ?? 0)).toFixed(2)})`,
    );
  }
} finally {
  await removeTempDir(dir);
}
