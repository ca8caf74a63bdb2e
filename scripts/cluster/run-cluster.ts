// `npm run cluster [-- --servers N]` (after `npm run build`): a one-node Swift with its S3 API, N ferry
// servers (default 2) sharing one home (one identity; who may connect is in etcd) and one bucket, and
// HAProxy in TCP mode in front of them, all on loopback. Prints the addresses and how to let a client in; Ctrl-C stops
// everything (every process killed, every temp dir removed).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { s3StoreClient } from '../../src/objectstore/index.js';
import { startHaproxy, type HaproxyNode } from './haproxy-node.js';
import { startSwiftNode } from './swift-node.js';
import { startEtcdNode } from './etcd-node.js';
import { freePort } from './free-port.js';

const BUCKET = 'ferry';
const FERRY = join(import.meta.dirname, '..', '..', 'bin', 'ferry');

function serverCount(): number {
  const at = process.argv.indexOf('--servers');
  const n = at >= 0 ? Number(process.argv[at + 1]) : 2;
  if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error('--servers takes 1 to 16');
  return n;
}

/** Resolves once a spawned `ferry serve` printed its ready banner; rejects if it exits first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (data: Buffer) => {
      out += data.toString();
      if (out.includes('ferry server ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`ferry serve exited with ${code}`)));
  });
}

const count = serverCount();
const swift = await startSwiftNode();
// The servers hand transfers over through etcd (--coordination): one writer per transfer across them.
const etcd = await startEtcdNode().catch(async (err: unknown) => {
  await swift.stop();
  throw err;
});
const dir = await mkdtemp(join(tmpdir(), 'ferry-cluster-'));
const servers: ChildProcess[] = [];
let haproxy: HaproxyNode | undefined;
const stop = async (): Promise<void> => {
  const exits = servers.map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once('exit', () => resolve());
      }),
  );
  for (const child of servers) child.kill('SIGTERM');
  await Promise.all(exits);
  await haproxy?.stop();
  await etcd.stop();
  await swift.stop();
  await rm(dir, { recursive: true, force: true });
};
try {
  const client = s3StoreClient({
    endpoint: swift.endpoint,
    region: swift.region,
    credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
  });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  client.destroy();
  const home = join(dir, 'home');
  const keygen = spawnSync(process.execPath, [FERRY, '--home', home, 'keygen'], { encoding: 'utf8' });
  if (keygen.status !== 0)
    throw new Error(`ferry keygen failed (run npm run build first?): ${keygen.stderr}`);
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: swift.accessKeyId,
    AWS_SECRET_ACCESS_KEY: swift.secretAccessKey,
    AWS_REGION: swift.region,
  };
  const addresses: Array<{ host: string; port: number }> = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    addresses.push({ host: '127.0.0.1', port });
    const child = spawn(
      process.execPath,
      [
        FERRY,
        '--home',
        home,
        'serve',
        '--root',
        join(dir, `root-${i}`),
        '--listen',
        `127.0.0.1:${port}`,
        '--store',
        `s3://${BUCKET}/files`,
        '--s3-endpoint',
        swift.endpoint,
        // Every client arrives from HAProxy's address, so a per-source handshake limit would be one shared
        // limit for all of them: left to HAProxy's own limits here.
        '--handshake-rate',
        '0',
        '--coordination',
        `etcd://${new URL(etcd.endpoint).host}/ferry-cluster`,
        '--log-level',
        'warn',
      ],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    servers.push(child);
    await ready(child);
  }
  haproxy = await startHaproxy(addresses);
  const id = spawnSync(process.execPath, [FERRY, '--home', home, 'id'], { encoding: 'utf8' }).stdout.trim();
  process.stdout.write(
    [
      `swift (s3api):  ${swift.endpoint}  bucket ${BUCKET}, files under files/`,
      `etcd:           ${etcd.endpoint}  transfer ownership and admission under ferry-cluster/`,
      ...addresses.map((a, i) => `ferry server ${i}: ${a.host}:${a.port}`),
      `haproxy (tcp):  ${haproxy.host}:${haproxy.port}   <- point clients here`,
      `cluster id:     ${id}`,
      // With --coordination the servers admit from etcd, not from the home's allow-list.
      `let a client in: ferry allow CLIENT_ID --coordination etcd://${new URL(etcd.endpoint).host}/ferry-cluster`,
      `or by code:      ferry invite --address ${haproxy.host}:${haproxy.port} --coordination etcd://${new URL(etcd.endpoint).host}/ferry-cluster`,
      `then:            ferry send FILE ${haproxy.host}:${haproxy.port} --expect ${id}`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
} catch (err) {
  await stop();
  throw err;
}
const onSignal = (): void => {
  void stop().then(() => process.exit(0));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
