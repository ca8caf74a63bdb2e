// HAProxy (Debian's 2.6) in TCP mode on loopback in front of ferry servers, for tests and `npm run cluster`:
// `balance first` sends every new connection to the first server that is up, health checks every 100 ms
// take a dead one out, and `option redispatch` with `retries` moves a connection that could not reach its
// server to another. `stop()` kills it and removes its temp dir.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { spawnDaemon } from './daemon-process.js';

/** A running HAProxy. */
export interface HaproxyNode {
  readonly host: string;
  readonly port: number;
  /** Kills it and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** Whether Debian's haproxy is installed. */
export function haproxyInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v haproxy'], { stdio: 'ignore' }).status === 0;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts HAProxy in front of `servers` (in order of preference) and resolves once it accepts. */
export async function startHaproxy(
  servers: ReadonlyArray<{ host: string; port: number }>,
): Promise<HaproxyNode> {
  if (!haproxyInstalled()) throw new Error('HAProxy is not installed: apt-get install -y haproxy');
  const dir = await mkdtemp(join(tmpdir(), 'ferry-haproxy-'));
  const port = await freePort();
  const config = [
    'global',
    '  maxconn 1024',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  retries 3',
    '  option redispatch',
    'frontend ferry',
    `  bind 127.0.0.1:${port}`,
    '  default_backend servers',
    'backend servers',
    '  balance first',
    ...servers.map((s, i) => `  server s${i} ${s.host}:${s.port} check inter 100ms fall 1 rise 1`),
    '',
  ].join('\n');
  await writeFile(join(dir, 'haproxy.cfg'), config);
  // Dies with this process even when it is killed with SIGKILL (daemon-process.ts).
  const child = spawnDaemon('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (data: Buffer) => (output += data.toString()));
  let stopped = false;
  const onExit = (): void => void child.kill('SIGKILL');
  process.once('exit', onExit);
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  // HAProxy says nothing when it is ready: ask by connecting (each attempt waits on a real answer).
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not start: ${output.trim().split('\n').slice(-5).join('\n')}`);
    }
    await delay(50);
  }
  return { host: '127.0.0.1', port, stop };
}
