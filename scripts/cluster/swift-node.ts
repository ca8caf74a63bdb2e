// A one-node OpenStack Swift (Debian's 2.30) with its S3 API (`s3api` + `tempauth`) on loopback, for the
// tests and for people (`npm run cluster`). Everything lives in one temp dir: swift.conf, the three rings,
// the four servers' configs, the device folder and the daemons' output. `stop()` kills every process it
// started (each runs in its own process group, since every Swift server forks a worker) and removes the dir.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { spawnDaemon, tieProcessGroup } from './daemon-process.js';

/** The Debian packages a Swift node needs, and the command each provides that we run. */
export const SWIFT_PACKAGES: ReadonlyArray<{ pkg: string; command: string }> = [
  { pkg: 'swift', command: 'swift-ring-builder' },
  { pkg: 'swift-proxy', command: 'swift-proxy-server' },
  { pkg: 'swift-account', command: 'swift-account-server' },
  { pkg: 'swift-container', command: 'swift-container-server' },
  { pkg: 'swift-object', command: 'swift-object-server' },
  { pkg: 'memcached', command: 'memcached' },
];

/** How to reach a running node through its S3 API. */
export interface SwiftNode {
  /** `http://127.0.0.1:PORT`, the proxy (S3 API through s3api, path-style). */
  readonly endpoint: string;
  readonly region: string;
  /** tempauth's user as S3 credentials: access key `ACCOUNT:USER`, secret = its password. */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Kills every daemon and removes the node's directory. Idempotent. */
  stop(): Promise<void>;
}

/** How long the node may take to answer an S3 request after its daemons are spawned (4 s measured idle). */
const READY_TIMEOUT_MS = 60_000;

/** The commands of {@link SWIFT_PACKAGES} that are not on the PATH. */
export function missingSwiftPackages(): string[] {
  return SWIFT_PACKAGES.filter(({ command }) => !onPath(command)).map(({ pkg }) => pkg);
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** A free loopback port (the rings must name each server's port before it starts). */
interface Ports {
  proxy: number;
  account: number;
  container: number;
  object: number;
  memcached: number;
}

function serverConf(dir: string, port: number, kind: 'account' | 'container' | 'object'): string {
  return `[DEFAULT]
swift_dir = ${dir}
devices = ${join(dir, 'srv')}
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 1
user = ${userInfo().username}
log_level = WARNING

[pipeline:main]
pipeline = ${kind}-server

[app:${kind}-server]
use = egg:swift#${kind}
`;
}

function proxyConf(dir: string, ports: Ports, password: string): string {
  // s3api before tempauth, as Swift's docs order them; account_autocreate so the first request makes the account.
  return `[DEFAULT]
swift_dir = ${dir}
bind_ip = 127.0.0.1
bind_port = ${ports.proxy}
workers = 1
user = ${userInfo().username}
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${ports.memcached}
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_ferry_tester = ${password} .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
`;
}

/**
 * The three rings, as `swift-ring-builder X.builder create 10 1 1`, `add r1z1-127.0.0.1:PORT/d1 1` and
 * `rebalance` make them (one partition power of 10, one replica, one device: the smallest ring Swift
 * accepts), written as the `X.ring.gz` files the servers read. One Python process with Swift's own
 * RingBuilder instead of nine runs of the command: each run imports Swift again (0.55 CPU s apiece), which
 * took 20 s of a test's time on a loaded machine. The interpreter is the one swift-ring-builder names.
 */
function buildRings(dir: string, ports: Ports): void {
  const script = `import sys
from swift.common.ring import RingBuilder
for arg in sys.argv[1:]:
    kind, port = arg.split('=')
    builder = RingBuilder(10, 1, 1)
    builder.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port), 'device': 'd1', 'weight': 1})
    builder.rebalance()
    builder.get_ring().save(kind + '.ring.gz')
`;
  const kinds = (['account', 'container', 'object'] as const).map((kind) => `${kind}=${ports[kind]}`);
  const result = spawnSync(swiftPython(), ['-c', script, ...kinds], { cwd: dir, encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(
      `building the rings failed: ${result.error?.message ?? (result.stderr || result.stdout)}`,
    );
}

/** The Python that has Swift's modules: the interpreter of swift-ring-builder's `#!` line. */
function swiftPython(): string {
  const found = spawnSync('sh', ['-c', 'command -v swift-ring-builder'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  const shebang = path === '' ? '' : (readFileSync(path, 'utf8').split('\n', 1)[0] ?? '');
  // `#!/usr/bin/python3`, or `#!/usr/bin/env python3` (the word after env then).
  const [, first, second] = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(shebang) ?? [];
  const interpreter = first?.endsWith('/env') ? second : first;
  if (interpreter === undefined) throw new Error(`no interpreter named by swift-ring-builder (${path})`);
  return interpreter;
}

/** The HTTP status of GET `url`, or undefined when nothing answers yet. */
function statusOf(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * Writes a one-node Swift config into a fresh temp dir, starts memcached and the four servers on free
 * loopback ports, and resolves once the S3 API answers an authenticated request (so the account, container
 * and object servers are up too, not only the proxy). Throws, having stopped what it started, when a
 * package is missing or the node does not come up; the error says why and shows the daemons' output.
 */
export async function startSwiftNode(): Promise<SwiftNode> {
  const missing = missingSwiftPackages();
  if (missing.length > 0) {
    throw new Error(`Swift is not installed: apt-get install -y ${missing.join(' ')}`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'ferry-swift-'));
  const children: ChildProcess[] = [];
  /** Releases the ties of the daemons' process groups to this process (`tieProcessGroup`). */
  const untie: Array<() => void> = [];
  const logPath = join(dir, 'daemons.log');
  const log = createWriteStream(logPath);
  const password = randomBytes(12).toString('hex');
  let stopped = false;
  const killAll = (signal: NodeJS.Signals): void => {
    for (const child of children) {
      // The negative pid is the process group: the server and the worker it forked.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      }
    }
  };
  // A test process that ends without calling stop() must not leave daemons behind. This covers a normal
  // exit; a process killed with SIGKILL is covered by how they were spawned (daemon-process.ts).
  const onExit = (): void => killAll('SIGKILL');
  process.once('exit', onExit);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    const exits = children
      .filter((child) => child.exitCode === null && child.signalCode === null)
      .map((child) => new Promise<void>((resolve) => child.once('exit', () => resolve())));
    killAll('SIGTERM');
    await Promise.race([Promise.all(exits), delay(5000)]);
    // Whatever ignored SIGTERM (a worker whose parent died first) goes now.
    killAll('SIGKILL');
    for (const release of untie) release();
    await new Promise<void>((resolve) => log.end(() => resolve()));
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    const ports: Ports = {
      proxy: await freePort(),
      account: await freePort(),
      container: await freePort(),
      object: await freePort(),
      memcached: await freePort(),
    };
    await mkdir(join(dir, 'srv', 'd1'), { recursive: true });
    await writeFile(
      join(dir, 'swift.conf'),
      `[swift-hash]\nswift_hash_path_suffix = ferry\nswift_hash_path_prefix = ferry\n\n` +
        `[storage-policy:0]\nname = Policy-0\ndefault = yes\n`,
    );
    buildRings(dir, ports);
    for (const kind of ['account', 'container', 'object'] as const)
      await writeFile(join(dir, `${kind}-server.conf`), serverConf(dir, ports[kind], kind));
    await writeFile(join(dir, 'proxy-server.conf'), proxyConf(dir, ports, password));

    const start = (command: string, args: string[]): void => {
      const child = spawnDaemon(command, args, {
        cwd: dir,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.pipe(log, { end: false });
      child.stderr!.pipe(log, { end: false });
      children.push(child);
      // The server dies with this process (spawnDaemon); the worker it forks, in its group, with this tie.
      if (child.pid !== undefined) untie.push(tieProcessGroup(child.pid));
    };
    start('memcached', [
      '-l',
      '127.0.0.1',
      '-p',
      String(ports.memcached),
      '-U',
      '0',
      '-u',
      userInfo().username,
    ]);
    for (const kind of ['account', 'container', 'object', 'proxy'] as const) {
      start(`swift-${kind}-server`, [join(dir, `${kind}-server.conf`)]);
    }

    const endpoint = `http://127.0.0.1:${ports.proxy}`;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    // Daemons say nothing when ready, so readiness is asked: the proxy's /healthcheck, then an authenticated
    // request that reaches the account server (tempauth's /auth/v1.0 answers only with the proxy up; a HEAD
    // of the account needs the account server). The container and object servers are asked directly (any
    // HTTP answer means listening): a bucket made before the container server listens is a 503, which
    // s3api reports as SlowDown ("Please reduce your request rate"), seen on a loaded machine. Each attempt
    // waits on a real answer; the pause between attempts only spaces them out.
    const storageListens = async (): Promise<boolean> =>
      (await statusOf(`http://127.0.0.1:${ports.container}/healthcheck`)) !== undefined &&
      (await statusOf(`http://127.0.0.1:${ports.object}/healthcheck`)) !== undefined;
    for (;;) {
      const dead = children.find((child) => child.exitCode !== null);
      if (dead) throw new Error(`${dead.spawnfile} exited with ${dead.exitCode} while starting`);
      if (
        (await statusOf(`${endpoint}/healthcheck`)) === 200 &&
        (await storageListens()) &&
        (await accountAnswers(endpoint, password))
      )
        break;
      if (Date.now() > deadline) throw new Error(`Swift did not answer within ${READY_TIMEOUT_MS} ms`);
      await delay(100);
    }
    return {
      endpoint,
      region: 'us-east-1',
      accessKeyId: 'ferry:tester',
      secretAccessKey: password,
      stop,
    };
  } catch (err) {
    const output = await readFile(logPath, 'utf8').catch(() => '');
    await stop();
    const tail = output.trim().split('\n').slice(-20).join('\n');
    throw new Error(`${(err as Error).message}${tail ? `\ndaemons' output:\n${tail}` : ''}`, {
      cause: err,
    });
  }
}

/** Whether tempauth issues a token and the account behind it answers (account server up). */
async function accountAnswers(endpoint: string, password: string): Promise<boolean> {
  const auth = await new Promise<{ token?: string; url?: string }>((resolve) => {
    const req = request(
      `${endpoint}/auth/v1.0`,
      { headers: { 'X-Auth-User': 'ferry:tester', 'X-Auth-Key': password }, timeout: 2000 },
      (res) => {
        res.resume();
        resolve({
          token: res.headers['x-auth-token'] as string | undefined,
          url: res.headers['x-storage-url'] as string | undefined,
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({}));
    req.end();
  });
  if (!auth.token || !auth.url) return false;
  const status = await new Promise<number | undefined>((resolve) => {
    const req = request(
      auth.url!,
      { method: 'HEAD', headers: { 'X-Auth-Token': auth.token }, timeout: 2000 },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
  return status !== undefined && status >= 200 && status < 300;
}
