// Question: does a real `ferry serve` stay fair and bounded when 100 authorised clients upload at once while
// 1,000 idle unauthenticated sockets (a slowloris) hang around? Loopback only, bounded in count and time.
//
//   npm run build && node --import tsx bench/load.ts [--clients 100] [--size 10M] [--idle 1000]
//        [--workers 4] [--chunk-size 4M] [--handshake-timeout 5000] [--deadline 600000] [--keep]
//
// The server runs as a child process (`ferry serve`); the limit flags the lead is adding (--max-connections,
// --max-unauthenticated, --max-sessions-per-client) are passed only when `ferry serve --help` lists them.
// The idle sockets are held by this process: a third send nothing, a third part of the preamble, a third the
// preamble and part of handshake message 1; whenever the server drops one it is counted and reopened, so
// 1,000 stay open for the whole run. The clients run as library `sendFiles` calls spread over a few worker
// processes (100 Node processes on 2 cores would measure the scheduler), each client with its own key.
// Every upload must complete and its SHA-256 at the destination must match. Prints one JSON line
// `{"bench":"load",...}` and a small table, then removes everything it made (unless --keep).
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { allowClient } from '../src/home/index.js';
import { formatFerryId, generateKeyPair, parseFerryId } from '../src/crypto/index.js';
import { sendFiles } from '../src/client/index.js';
import { runFerry, startServe, type ServeProcess } from '../test/helpers/cli.js';
import { sha256File, writeRandomFile } from '../test/helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';
import { median } from './lib/median.js';
import { parseSize } from './lib/parse-size.js';
import { procStatusBytes } from './lib/proc-stats.js';

const SELF = fileURLToPath(import.meta.url);
const MIB = 1024 * 1024;

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

/** Parent -> worker. */
type ToWorker = { type: 'go'; host: string; port: number; serverId: string };
/** Worker -> parent. */
type FromWorker =
  | { type: 'ready'; clients: Array<{ id: string; file: string; sha256: string }> }
  | { type: 'done'; results: ClientResult[] };

interface ClientResult {
  client: number;
  remoteDir: string;
  ok: boolean;
  error?: string;
  startMs: number;
  endMs: number;
  retries: number;
}

/** Worker mode: makes its clients' keys and files, waits for 'go', then runs every upload at once. */
async function worker(): Promise<void> {
  const first = Number(flag('--first', '0'));
  const count = Number(flag('--count', '0'));
  const size = parseSize(flag('--size', '10M'));
  const chunkBytes = parseSize(flag('--chunk-size', '4M'));
  const dir = flag('--dir', '');
  // Keys stay in this process: only public IDs go to the parent.
  const clients = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const index = first + i;
      const file = join(dir, `client-${index}.bin`);
      const sha256 = await writeRandomFile(file, size);
      return { index, identity: generateKeyPair(), file, sha256 };
    }),
  );
  process.send!({
    type: 'ready',
    clients: clients.map((c) => ({
      id: formatFerryId(c.identity.publicKey),
      file: c.file,
      sha256: c.sha256,
    })),
  } satisfies FromWorker);
  const [go] = (await once(process, 'message')) as [ToWorker];
  const serverKey = parseFerryId(go.serverId);
  // performance.timeOrigin + now() is comparable across processes (both are epoch-based).
  const results = await Promise.all(
    clients.map(async (c): Promise<ClientResult> => {
      const startMs = performance.timeOrigin + performance.now();
      let retries = 0;
      const remoteDir = `c${c.index}`;
      try {
        await sendFiles({
          server: { host: go.host, port: go.port },
          identity: c.identity,
          verifyServer: (key) => {
            if (!key.equals(serverKey)) throw new Error('server key mismatch');
          },
          files: [c.file],
          remoteDir,
          chunkBytes,
          onEvent: (event) => {
            if (event.type === 'retrying') retries++;
          },
        });
        return {
          client: c.index,
          remoteDir,
          ok: true,
          startMs,
          endMs: performance.timeOrigin + performance.now(),
          retries,
        };
      } catch (err) {
        return {
          client: c.index,
          remoteDir,
          ok: false,
          error: String(err),
          startMs,
          endMs: performance.timeOrigin + performance.now(),
          retries,
        };
      }
    }),
  );
  process.send!({ type: 'done', results } satisfies FromWorker);
  process.disconnect();
}

/** A pool of idle unauthenticated sockets, kept at `target` open: each one the server drops is reopened. */
class Slowloris {
  readonly #sockets = new Set<Socket>();
  readonly #host: string;
  readonly #port: number;
  readonly #target: number;
  #stopped = false;
  #next = 0;
  dropped = 0;
  opened = 0;

  constructor(host: string, port: number, target: number) {
    this.#host = host;
    this.#port = port;
    this.#target = target;
  }

  get open(): number {
    return this.#sockets.size;
  }

  /** Opens the pool and resolves once every socket is connected and has sent its partial bytes. */
  async start(): Promise<void> {
    const batch = 100;
    for (let i = 0; i < this.#target; i += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, this.#target - i) }, () => this.#openOne()));
    }
  }

  #openOne(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const kind = this.#next++ % 3;
    const socket = connect({ host: this.#host, port: this.#port });
    this.opened++;
    this.#sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined); // a version refusal or message 2: ignored, never answered
    return new Promise<void>((resolve) => {
      socket.once('connect', () => {
        // Nothing; part of the preamble; the preamble and part of message 1 (length 32, 5 bytes of it).
        if (kind === 1) socket.write(Buffer.from('FER'));
        else if (kind === 2)
          socket.write(
            Buffer.concat([Buffer.from('FERRY\0\0\x01', 'latin1'), Buffer.from([0, 32, 1, 2, 3, 4, 5])]),
          );
        resolve();
      });
      socket.once('close', () => {
        this.#sockets.delete(socket);
        if (this.#stopped) return;
        this.dropped++;
        // Keep the pool full, like a real slowloris: the next idle socket takes this one's place.
        setImmediate(() => void this.#openOne());
        resolve();
      });
    });
  }

  stop(): void {
    this.#stopped = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

async function checked(
  result: Promise<{ code: number | null; stdout: string; stderr: string }>,
  what: string,
): Promise<string> {
  const { code, stdout, stderr } = await result;
  if (code !== 0) throw new Error(`${what} exited ${code}: ${stderr}`);
  return stdout;
}

async function main(): Promise<void> {
  if (process.argv.includes('--worker')) return worker();
  const clientCount = Number(flag('--clients', '100'));
  const sizeText = flag('--size', '10M');
  const size = parseSize(sizeText);
  const idleCount = Number(flag('--idle', '1000'));
  const workerCount = Math.max(1, Math.min(clientCount, Number(flag('--workers', '4'))));
  const chunkText = flag('--chunk-size', '4M');
  const handshakeTimeout = flag('--handshake-timeout', '5000');
  const deadlineMs = Number(flag('--deadline', '600000'));
  const dir = await makeTempDir('ferry-load-');
  const deadline = setTimeout(() => {
    process.stderr.write(`load: deadline of ${deadlineMs} ms passed, giving up\n`);
    process.exit(2);
  }, deadlineMs);
  deadline.unref();
  let server: ServeProcess | undefined;
  const workers: ChildProcess[] = [];
  let slowloris: Slowloris | undefined;
  try {
    const serverHome = join(dir, 'server-home');
    const root = join(dir, 'root');
    const sources = join(dir, 'sources');
    await checked(runFerry(['--home', serverHome, 'keygen']), 'keygen');
    const serverId = (await checked(runFerry(['--home', serverHome, 'id']), 'id')).trim();

    // Limit flags: only those this build's `ferry serve --help` lists.
    const help = await checked(runFerry(['serve', '--help']), 'serve --help');
    const wanted: Array<[string, string]> = [
      ['--max-connections', String(Math.max(1024, idleCount + clientCount + 64))],
      ['--max-unauthenticated', '256'],
      ['--max-sessions-per-client', '4'],
      ['--handshake-timeout', handshakeTimeout],
      // Every client and idle socket here comes from 127.0.0.1: one source. This bench measures the connection
      // gate, so the per-source handshake rate limit (docs/SECURITY.md) is off.
      ['--handshake-rate', '0'],
    ];
    const limitArgs = wanted.filter(([name]) => help.includes(name)).flat();
    const missingFlags = wanted.filter(([name]) => !help.includes(name)).map(([name]) => name);

    // Clients: keys and files made in the workers; the parent only allows their public IDs.
    await mkdir(sources, { recursive: true });
    const perWorker = Math.ceil(clientCount / workerCount);
    const expected = new Map<string, string>();
    const readies: Array<Promise<Array<{ index: number; id: string; sha256: string }>>> = [];
    for (let w = 0; w < workerCount; w++) {
      const first = w * perWorker;
      const count = Math.min(perWorker, clientCount - first);
      if (count <= 0) break;
      const child = fork(
        SELF,
        [
          '--worker',
          '--first',
          String(first),
          '--count',
          String(count),
          '--size',
          sizeText,
          '--chunk-size',
          chunkText,
          '--dir',
          sources,
        ],
        { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      workers.push(child);
      readies.push(
        (async () => {
          const [message] = (await once(child, 'message')) as [FromWorker];
          if (message.type !== 'ready') throw new Error('worker did not get ready');
          return message.clients.map((c, i) => ({ index: first + i, id: c.id, sha256: c.sha256 }));
        })(),
      );
    }
    // One at a time: allowClient is a read-modify-write of allow.json without a lock, so concurrent calls
    // lose entries (reported as a bug).
    for (const c of (await Promise.all(readies)).flat()) {
      await allowClient(serverHome, c.id, { name: `load-${c.index}`, permissions: ['upload'] });
      expected.set(`c${c.index}`, c.sha256);
    }

    server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn', ...limitArgs]);
    const serverPid = server.process.pid!;
    const [host, portText] = server.address.split(':') as [string, string];
    const port = Number(portText);
    const idleRss = (await procStatusBytes(serverPid, 'VmRSS')) ?? 0;

    slowloris = new Slowloris(host, port, idleCount);
    await slowloris.start();
    const droppedBeforeUploads = slowloris.dropped;
    let peakRss = 0;
    const poll = setInterval(() => {
      void procStatusBytes(serverPid, 'VmRSS').then((rss) => {
        if (rss !== undefined) peakRss = Math.max(peakRss, rss);
      });
    }, 100);

    const started = performance.timeOrigin + performance.now();
    const done = workers.map(async (child) => {
      const [message] = (await once(child, 'message')) as [FromWorker];
      if (message.type !== 'done') throw new Error('worker sent no results');
      return message.results;
    });
    for (const child of workers) child.send({ type: 'go', host, port, serverId } satisfies ToWorker);
    const results = (await Promise.all(done)).flat();
    const totalMs = performance.timeOrigin + performance.now() - started;
    clearInterval(poll);
    const idleOpenAtEnd = slowloris.open;
    const dropped = slowloris.dropped;
    const serverPeak = (await procStatusBytes(serverPid, 'VmHWM')) ?? 0;
    slowloris.stop();

    // Verify every upload at the destination.
    let verified = 0;
    const failures: string[] = [];
    for (const r of results) {
      if (!r.ok) {
        failures.push(`client ${r.client}: ${r.error ?? 'failed'}`);
        continue;
      }
      const landed = await sha256File(join(root, r.remoteDir, `client-${r.client}.bin`)).catch(
        () => 'missing',
      );
      if (landed === expected.get(r.remoteDir)) verified++;
      else failures.push(`client ${r.client}: sha256 at the destination differs (${landed.slice(0, 12)})`);
    }
    const rates = results.filter((r) => r.ok).map((r) => size / MIB / ((r.endMs - r.startMs) / 1000));
    const sorted = [...rates].sort((a, b) => a - b);
    const med = median(rates);
    const line = {
      bench: 'load',
      node: process.version,
      clients: clientCount,
      bytesPerClient: size,
      idleSockets: idleCount,
      workers: workers.length,
      limitFlags: limitArgs,
      missingLimitFlags: missingFlags,
      uploadsOk: results.filter((r) => r.ok).length,
      verified,
      retries: results.reduce((n, r) => n + r.retries, 0),
      totalMs: Math.round(totalMs),
      aggregateMiBps: Number(((clientCount * size) / MIB / (totalMs / 1000)).toFixed(1)),
      perClientMiBps: {
        min: Number((sorted[0] ?? NaN).toFixed(2)),
        median: Number(med.toFixed(2)),
        max: Number((sorted.at(-1) ?? NaN).toFixed(2)),
      },
      fairnessMinOverMedian: Number(((sorted[0] ?? NaN) / med).toFixed(3)),
      serverIdleRssBytes: idleRss,
      serverPeakRssBytes: serverPeak,
      serverPeakRssSampledBytes: peakRss,
      idleDroppedBeforeUploads: droppedBeforeUploads,
      idleDroppedTotal: dropped,
      idleOpenAtEnd,
      idleOpened: slowloris.opened,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    const mib = (b: number): string => `${(b / MIB).toFixed(1)} MiB`;
    const rows: Array<[string, string]> = [
      ['clients x file', `${clientCount} x ${mib(size)} over ${workers.length} worker processes`],
      ['idle sockets held', `${idleCount} (open at end ${idleOpenAtEnd}, opened ${slowloris.opened})`],
      ['idle sockets dropped', `${dropped} by the server (${droppedBeforeUploads} before the uploads began)`],
      ['limit flags passed', limitArgs.length > 0 ? limitArgs.join(' ') : '(none)'],
      ['limit flags missing', missingFlags.length > 0 ? missingFlags.join(' ') : '(none)'],
      ['uploads ok / verified', `${line.uploadsOk} / ${verified} (retries ${line.retries})`],
      ['total time', `${(totalMs / 1000).toFixed(2)} s (aggregate ${line.aggregateMiBps} MiB/s)`],
      [
        'per client MiB/s',
        `min ${line.perClientMiBps.min}  median ${line.perClientMiBps.median}  max ${line.perClientMiBps.max}`,
      ],
      ['fairness min/median', String(line.fairnessMinOverMedian)],
      ['server RSS', `idle ${mib(idleRss)}, peak (VmHWM) ${mib(serverPeak)}`],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(24)} ${v}\n`);
    for (const f of failures.slice(0, 20)) process.stdout.write(`FAILED ${f}\n`);
    if (failures.length > 0 || verified !== clientCount) process.exitCode = 1;
  } finally {
    slowloris?.stop();
    for (const child of workers) if (child.exitCode === null) child.kill('SIGKILL');
    await server?.stop();
    clearTimeout(deadline);
    if (!process.argv.includes('--keep')) await removeTempDir(dir);
  }
}

await main();
