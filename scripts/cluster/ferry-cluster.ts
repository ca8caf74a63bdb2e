// N `ferry serve` processes (the compiled CLI, bin/ferry) on one Swift bucket and one etcd, sharing one
// home (one identity, one allow-list), behind HAProxy in TCP mode: the cluster of `npm run cluster`, for the
// end-to-end tests (test/e2e/cli-cluster.test.ts), the kill -9 script (kill-test.ts) and the bench's cluster
// case. Each server logs JSON lines at trace level (its progress lines too) to a pipe; `waitForLog` waits on a line (an event the
// server reports), never on a timer. The caller starts and stops Swift and etcd; `stop()` stops the rest.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startHaproxy, type HaproxyNode } from './haproxy-node.js';
import { freePort } from './free-port.js';
import { spawnDaemon } from './daemon-process.js';
import type { SwiftNode } from './swift-node.js';

/** The CLI entry point; it runs the compiled `dist/`, so `npm run build` must have run. */
export const FERRY_BIN = join(import.meta.dirname, '..', '..', 'bin', 'ferry');

/** One JSON log line of a server (pino's record: level, msg and the fields of `server-log.ts`). */
export type LogRecord = Record<string, unknown>;

/**
 * Matches the lines about the transfer whose start line is `start`: progress lines name no path, only the
 * session and the transfer's ref (`server-log.ts`).
 */
export function sameTransfer(start: LogRecord): (record: LogRecord) => boolean {
  return (record) => record['session'] === start['session'] && record['ref'] === start['ref'];
}

/** One running `ferry serve` of the cluster. */
export interface ClusterServer {
  readonly index: number;
  readonly address: { host: string; port: number };
  readonly process: ChildProcess;
  /** Every JSON log line so far. */
  readonly records: readonly LogRecord[];
  /** Resolves with the first line (already seen or to come) for which `match` holds; rejects if it exits first. */
  waitForLog(match: (record: LogRecord) => boolean): Promise<LogRecord>;
  /** kill -9, and resolves once it is gone and every line it wrote was read. */
  kill(): Promise<void>;
  /** Whether the process still runs. */
  readonly alive: boolean;
}

export interface FerryCluster {
  readonly servers: readonly ClusterServer[];
  readonly haproxy: HaproxyNode;
  /** The servers' shared home (one identity, one allow-list). */
  readonly home: string;
  /** The cluster's ferry ID (every server has the same identity). */
  readonly id: string;
  /** `s3://BUCKET/PREFIX` the servers store files under. */
  readonly store: string;
  /** The object key prefix of files (the PREFIX of `store`, ending in `/`). */
  readonly keyPrefix: string;
  /** Starts killed server `index` again on its port (HAProxy's health check takes it back). */
  restart(index: number): Promise<ClusterServer>;
  /** Stops HAProxy and every server still running (SIGTERM, then SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
}

export interface FerryClusterOptions {
  readonly swift: SwiftNode;
  readonly bucket: string;
  /** etcd's client URL, `http://HOST:PORT`. */
  readonly etcdEndpoint: string;
  /** A directory of the caller's: the home and the servers' roots go under it. */
  readonly dir: string;
  readonly servers?: number;
  /** Key prefix in the bucket and in etcd, so several clusters can share one Swift and one etcd. */
  readonly prefix?: string;
  /** Client IDs allowed in (written to the shared home's allow-list before the servers start). */
  readonly clients?: readonly string[];
  /** The ferry CLI to run (default the checkout's bin/ferry; the bench passes its snapshot). */
  readonly bin?: string;
  /** Extra `ferry serve` arguments for every server. */
  readonly serveArgs?: readonly string[];
}

function runFerrySync(bin: string, args: readonly string[]): string {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`ferry ${args[2] ?? ''} failed (run npm run build first?): ${result.stderr}`);
  return result.stdout.trim();
}

function startServer(
  bin: string,
  index: number,
  port: number,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
) {
  // Dies with this process even when it is killed with SIGKILL (daemon-process.ts).
  const child = spawnDaemon(process.execPath, [bin, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const records: LogRecord[] = [];
  // A caller that dies without stop() (a test runner's timeout) must not leave servers behind.
  const onExit = (): void => void child.kill('SIGKILL');
  process.once('exit', onExit);
  void once(child, 'exit').then(() => process.removeListener('exit', onExit));
  const waiters = new Set<{ match: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }>();
  let stderrTail = '';
  const exited = once(child, 'exit');
  const lines = createInterface({ input: child.stderr! });
  // Every line the process wrote before it died is read once this closes.
  const drained = once(lines, 'close');
  lines.on('line', (line) => {
    let record: LogRecord;
    try {
      record = JSON.parse(line) as LogRecord;
    } catch {
      stderrTail = (stderrTail + line + '\n').slice(-4000);
      return;
    }
    records.push(record);
    for (const waiter of waiters)
      if (waiter.match(record)) {
        waiters.delete(waiter);
        waiter.resolve(record);
      }
  });
  const server: ClusterServer = {
    index,
    address: { host: '127.0.0.1', port },
    process: child,
    records,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    waitForLog(match) {
      const seen = records.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve };
        waiters.add(waiter);
        void exited.then(() => {
          if (waiters.delete(waiter))
            reject(new Error(`ferry server ${index} exited before the awaited log line\n${stderrTail}`));
        });
      });
    },
    async kill() {
      if (server.alive) child.kill('SIGKILL');
      await exited;
      await drained;
    },
  };
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      if (out.includes('ferry server ready')) resolve();
    });
    void exited.then(() =>
      reject(new Error(`ferry serve ${index} exited with ${child.exitCode} before ready\n${stderrTail}`)),
    );
  });
  return { server, ready, exited };
}

/** Starts the servers and HAProxy; on failure stops what it started and throws. */
export async function startFerryCluster(options: FerryClusterOptions): Promise<FerryCluster> {
  const count = options.servers ?? 2;
  const bin = options.bin ?? FERRY_BIN;
  const prefix = options.prefix ?? 'ferry-cluster/';
  const home = join(options.dir, 'cluster-home');
  runFerrySync(bin, ['--home', home, 'keygen']);
  const id = runFerrySync(bin, ['--home', home, 'id']);
  // A cluster admits from etcd alone (--coordination): each client is allowed there; the home's list too, for
  // a single server started on this home without --coordination (bench/cluster-case.ts's disk server).
  const coordination = `etcd://${new URL(options.etcdEndpoint).host}/${prefix}`;
  for (const [i, client] of (options.clients ?? []).entries()) {
    runFerrySync(bin, ['--home', home, 'allow', client, '--name', `client-${i}`]);
    runFerrySync(bin, ['allow', client, '--name', `client-${i}`, '--coordination', coordination]);
  }
  const store = `s3://${options.bucket}/${prefix}files`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: options.swift.accessKeyId,
    AWS_SECRET_ACCESS_KEY: options.swift.secretAccessKey,
    AWS_REGION: options.swift.region,
  };
  delete env['FERRY_HOME'];
  delete env['NODE_TEST_CONTEXT'];
  const servers: ClusterServer[] = [];
  const exits: Array<Promise<unknown>> = [];
  let haproxy: HaproxyNode | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await haproxy?.stop();
      for (const server of servers) if (server.alive) server.process.kill('SIGTERM');
      const deadline = setTimeout(() => {
        for (const server of servers) if (server.alive) server.process.kill('SIGKILL');
      }, 10_000);
      await Promise.all(exits);
      clearTimeout(deadline);
    })();
    return stopping;
  };
  const argsOf = (i: number, port: number): string[] => [
    '--home',
    home,
    'serve',
    '--root',
    join(options.dir, `cluster-root-${i}`),
    '--listen',
    `127.0.0.1:${port}`,
    '--store',
    store,
    '--s3-endpoint',
    options.swift.endpoint,
    // Every client arrives from HAProxy's address: a per-source limit would be one for all of them.
    '--handshake-rate',
    '0',
    '--coordination',
    coordination,
    // trace: the per-batch progress lines (what each server made durable) are the callers' events.
    '--log-level',
    'trace',
    ...(options.serveArgs ?? []),
  ];
  const launch = async (i: number, port: number): Promise<ClusterServer> => {
    const started = startServer(bin, i, port, argsOf(i, port), env);
    servers[i] = started.server;
    exits.push(started.exited);
    await started.ready;
    return started.server;
  };
  try {
    for (let i = 0; i < count; i++) await launch(i, await freePort());
    haproxy = await startHaproxy(servers.map((s) => s.address));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    servers,
    haproxy,
    home,
    id,
    store,
    keyPrefix: `${prefix}files/`,
    async restart(index) {
      const server = servers[index];
      if (!server) throw new Error(`no server ${index}`);
      if (server.alive) throw new Error(`server ${index} still runs`);
      return launch(index, server.address.port);
    },
    stop,
  };
}
