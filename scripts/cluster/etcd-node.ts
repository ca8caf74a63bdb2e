// One etcd 3.4 (Debian's `etcd-server`) on loopback for the tests and for people (`npm run cluster`): a
// single member with its data in a fresh temp dir, client and peer URLs on free 127.0.0.1 ports. Ferry
// speaks to it through its HTTP/JSON gateway (src/server/etcd-gateway.ts). `stop()` kills it and removes
// the dir; `pause()`/`resume()` stop and restart the same member on the same ports and data, so a test can
// make the coordination service briefly unreachable.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { spawnDaemon } from './daemon-process.js';

/** The Debian package and the command it provides. */
export const ETCD_PACKAGE = { pkg: 'etcd-server', command: 'etcd' } as const;

export interface EtcdNode {
  /** `http://127.0.0.1:PORT`, the client URL (gRPC and its JSON gateway). */
  readonly endpoint: string;
  /** Stops the member (SIGKILL, as a crash) keeping its data and ports; `resume()` starts it again. */
  pause(): Promise<void>;
  /** Starts the paused member again and resolves once it answers; nothing to do when it runs. */
  resume(): Promise<void>;
  /** Kills the member and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** How long etcd may take to answer after it is spawned (well under a second measured here). */
const READY_TIMEOUT_MS = 30_000;

export function etcdInstalled(): boolean {
  return spawnSync('sh', ['-c', `command -v ${ETCD_PACKAGE.command}`], { stdio: 'ignore' }).status === 0;
}

/** Whether the member answers a gateway request (`/v3/maintenance/status`). */
function answers(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/v3/maintenance/status`, { method: 'POST', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end('{}');
  });
}

/** Starts a one-member etcd in a fresh temp dir; throws, having stopped it, when it does not come up. */
export async function startEtcdNode(): Promise<EtcdNode> {
  if (!etcdInstalled()) throw new Error(`etcd is not installed: apt-get install -y ${ETCD_PACKAGE.pkg}`);
  const dir = await mkdtemp(join(tmpdir(), 'ferry-etcd-'));
  const logPath = join(dir, 'etcd.log');
  const log = createWriteStream(logPath);
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  let child: ChildProcess | undefined;
  let stopped = false;
  const kill = (): void => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const onExit = (): void => kill();
  process.once('exit', onExit);

  const halt = async (): Promise<void> => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    kill();
    await exited;
  };
  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;
  const launch = async (): Promise<void> => {
    // Resuming a member that runs would start a second one on its ports and data: nothing to do.
    if (running()) return;
    if (stopped) throw new Error('etcd was stopped');
    const peer = `http://127.0.0.1:${peerPort}`;
    // Dies with this process even when it is killed with SIGKILL (daemon-process.ts).
    child = spawnDaemon(
      ETCD_PACKAGE.command,
      [
        '--name=ferry',
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${endpoint}`,
        `--advertise-client-urls=${endpoint}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=ferry=${peer}`,
        '--log-level=warn',
        '--logger=zap',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: '' } },
    );
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    // etcd says nothing parseable when ready, so readiness is asked; the pause only spaces the attempts.
    for (;;) {
      if (child.exitCode !== null) throw new Error(`etcd exited with ${child.exitCode} while starting`);
      if (await answers(endpoint)) return;
      if (Date.now() > deadline) throw new Error(`etcd did not answer within ${READY_TIMEOUT_MS} ms`);
      await delay(50);
    }
  };
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await halt();
    await new Promise<void>((resolve) => log.end(() => resolve()));
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    await launch();
  } catch (err) {
    const output = await readFile(logPath, 'utf8').catch(() => '');
    await stop();
    const tail = output.trim().split('\n').slice(-20).join('\n');
    throw new Error(`${(err as Error).message}${tail ? `\netcd's output:\n${tail}` : ''}`, { cause: err });
  }
  return { endpoint, pause: halt, resume: launch, stop };
}
