// Question: does `ferry serve` want more than libuv's default 4 pool threads (bin/ferry sets 16)? The pool
// carries every file call, fdatasync and WebCrypto digest of every session. One real `ferry serve` with
// UV_THREADPOOL_SIZE=--threads set outside the process; `--clients` uploads at once on loopback (library calls
// in this process): `small` sends a tree of `--files` x 4 KiB each, `big` one `--mib` MiB file in 1 MiB
// chunks. Meanwhile a probe client uploads 1 KiB again and again, each on a new session: its latency is
// what a newcomer waits while the pool is busy. Prints one JSON line. Run A/B interleaved, e.g.
//   npm run build && for r in 1 2 3; do for t in 4 16; do
//     node --import tsx bench/pool-threads.ts --threads $t --mode small --clients 16 --files 100; done; done
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readFileSync, readdirSync } from 'node:fs';
import { allowClient } from '../src/home/index.js';
import { formatFerryId, generateKeyPair, parseFerryId } from '../src/crypto/index.js';
import { sendFiles, sendTree } from '../src/client/index.js';
import { runFerry, startServe } from '../test/helpers/cli.js';
import { writeRandomFile } from '../test/helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';

const flag = (n: string, d: string): string => {
  const i = process.argv.indexOf(n);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const threads = flag('--threads', '4');
const mode = flag('--mode', 'small');
const clients = Number(flag('--clients', '8'));
const files = Number(flag('--files', '60'));
const bigMiB = Number(flag('--mib', '8'));

const cpuOf = (pid: number): number => {
  let t = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const f = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8').split(') ')[1]!.split(' ');
    t += Number(f[11]) + Number(f[12]);
  }
  return t / 100;
};

const dir = await makeTempDir('ferry-pool-');
const home = join(dir, 'home');
const root = join(dir, 'root');
await runFerry(['--home', home, 'keygen']);
const serverId = (await runFerry(['--home', home, 'id'])).stdout.trim();
const ids = [];
for (let c = 0; c <= clients; c++) {
  const identity = generateKeyPair();
  await allowClient(home, formatFerryId(identity.publicKey), { name: `c${c}`, permissions: ['upload'] });
  const src = join(dir, `src${c}`, 'tree');
  await mkdir(src, { recursive: true });
  const list: string[] = [];
  if (c === clients) {
    await writeFile(join(src, 'probe.bin'), Buffer.alloc(1024, 7));
  } else if (mode === 'small') {
    for (let i = 0; i < files; i++) await writeFile(join(src, `f${i}.bin`), Buffer.alloc(4096, i));
  } else {
    const f = join(src, 'big.bin');
    await writeRandomFile(f, bigMiB * 1024 * 1024);
    list.push(f);
  }
  ids.push({ identity, src, list });
}
const server = await startServe(['--home', home, '--root', root, '--log-level', 'warn'], {
  env: { UV_THREADPOOL_SIZE: threads },
});
const pid = server.process.pid!;
const tasks = readdirSync(`/proc/${pid}/task`).length;
const key = parseFerryId(serverId);
const [host, port] = server.address.split(':') as [string, string];
const common = (identity: ReturnType<typeof generateKeyPair>) => ({
  server: { host, port: Number(port) },
  identity,
  verifyServer: (k: Buffer) => {
    if (!k.equals(key)) throw new Error('key');
  },
});
const cpu0 = cpuOf(pid);
const t0 = performance.now();
let loading = true;
const probeMs: number[] = [];
const probe = (async () => {
  const p = ids[clients]!;
  let n = 0;
  while (loading) {
    const s = performance.now();
    await sendFiles({ ...common(p.identity), files: [join(p.src, 'probe.bin')], remoteDir: `probe${n++}` });
    probeMs.push(performance.now() - s);
  }
})();
const perClient = await Promise.all(
  ids.slice(0, clients).map(async (c, i) => {
    const s = performance.now();
    if (mode === 'small') await sendTree({ ...common(c.identity), dirs: [c.src], remoteDir: `c${i}` });
    else await sendFiles({ ...common(c.identity), files: c.list, remoteDir: `c${i}`, chunkBytes: 1 << 20 });
    return performance.now() - s;
  }),
);
const total = performance.now() - t0;
loading = false;
await probe;
const cpu = cpuOf(pid) - cpu0;
await server.stop();
await removeTempDir(dir);
const sorted = (a: number[]) => [...a].sort((x, y) => x - y);
const ps = sorted(probeMs);
const cs = sorted(perClient);
console.log(
  JSON.stringify({
    threads,
    mode,
    tasks,
    totalMs: Math.round(total),
    clientMs: { min: Math.round(cs[0]!), med: Math.round(cs[cs.length >> 1]!), max: Math.round(cs.at(-1)!) },
    probes: ps.length,
    probeMs: { med: Math.round(ps[ps.length >> 1] ?? NaN), max: Math.round(ps.at(-1) ?? NaN) },
    serverCpuS: cpu,
  }),
);
