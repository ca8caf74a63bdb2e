// The kill -9 runs of issue 15 at full size, outside `npm test` (docs: README "Running a cluster"):
//
//   npm run build && node --import tsx scripts/cluster/kill-test.ts [--size 1G] [--cases upload,download,tree]
//                                                                 [--files 1000]
//
// Starts Swift (s3api), etcd, two `ferry serve` on them behind HAProxy (scripts/cluster/ferry-cluster.ts)
// and a byte-counting proxy in front of HAProxy. upload: `ferry send` of a random file; the server holding
// it (found by its log line) is killed with SIGKILL once it logs half the file durable; the client's retry
// lands on the other server and finishes; the object is read back from Swift and compared. download: the
// same object is fetched with `ferry get`; the server sending it is killed at half the bytes; the file is
// compared. tree: `ferry send -r` of --files files of 1 KiB, the receiving server killed once it stored half,
// every object read back. Prints one line per step and a JSON summary per case; stops everything it started.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3StoreClient } from '../../src/objectstore/index.js';
import { spawnFerry, runFerry } from '../../test/helpers/cli.js';
import { FaultProxy } from '../../test/helpers/fault-proxy.js';
import { sha256File, writeRandomFile } from '../../test/helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../../test/helpers/temp-dir.js';
import { parseSize } from '../../bench/lib/parse-size.js';
import { startEtcdNode } from './etcd-node.js';
import {
  sameTransfer,
  startFerryCluster,
  type ClusterServer,
  type FerryCluster,
  type LogRecord,
} from './ferry-cluster.js';
import { startSwiftNode } from './swift-node.js';

const MIB = 1024 * 1024;
const PART_BYTES = 5 * MIB;

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    cases: { type: 'string', default: 'upload,download' },
    'chunk-size': { type: 'string', default: '1m' },
    files: { type: 'string', default: '1000' },
    // A server resuming re-reads and re-hashes what is held (from Swift) before it answers, and a finish
    // copies every part: minutes per GiB here with no byte on the wire, longer than the default 30 s.
    'stall-timeout': { type: 'string', default: '600s' },
  },
});
const size = parseSize(values.size);
const cases = values.cases.split(',');
const started = Date.now();
const say = (line: string): void =>
  void process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);

async function objectSha(client: S3Client, bucket: string, key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const piece of out.Body as AsyncIterable<Buffer>) hash.update(piece);
  return hash.digest('hex');
}

function holder(cluster: FerryCluster, match: (r: LogRecord) => boolean): Promise<ClusterServer> {
  return Promise.any(cluster.servers.filter((s) => s.alive).map((s) => s.waitForLog(match).then(() => s)));
}

const swift = await startSwiftNode();
const etcd = await startEtcdNode().catch(async (err: unknown) => {
  await swift.stop();
  throw err;
});
const dir = await makeTempDir('ferry-kill-test-');
const proxies: FaultProxy[] = [];
let cluster: FerryCluster | undefined;
let failed = false;
let stopping: Promise<void> | undefined;
const stopAll = (): Promise<void> =>
  (stopping ??= (async () => {
    await Promise.allSettled(proxies.map((p) => p.close()));
    await cluster?.stop();
    await etcd.stop();
    await swift.stop();
    await removeTempDir(dir);
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void stopAll().then(() => process.exit(130)));
try {
  const client = s3StoreClient({
    endpoint: swift.endpoint,
    region: swift.region,
    credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
  });
  const bucket = 'kill-test';
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const clientHome = join(dir, 'client-home');
  const keygen = await runFerry(['--home', clientHome, 'keygen']);
  if (keygen.code !== 0) throw new Error(`keygen: ${keygen.stderr}`);
  cluster = await startFerryCluster({
    swift,
    bucket,
    etcdEndpoint: etcd.endpoint,
    dir,
    clients: [keygen.stdout.trim()],
    serveArgs: ['--durable-batch', '5m'],
  });
  const c = cluster;
  say(
    `swift ${swift.endpoint}, etcd ${etcd.endpoint}, haproxy ${c.haproxy.host}:${c.haproxy.port}, ${c.servers.length} servers`,
  );
  const source = join(dir, 'big.bin');
  const sourceSha = await writeRandomFile(source, size);
  say(`wrote ${size} random bytes`);
  const ferry = (args: string[]) =>
    spawnFerry(
      [
        '--home',
        clientHome,
        ...args,
        '--expect',
        c.id,
        '--retries',
        '4',
        '--retry-delay',
        '50',
        '--chunk-size',
        values['chunk-size'],
        '--stall-timeout',
        values['stall-timeout'],
      ],
      3_600_000,
    );
  const newProxy = async (): Promise<FaultProxy> => {
    const proxy = await FaultProxy.start({ target: { host: c.haproxy.host, port: c.haproxy.port } });
    proxies.push(proxy);
    return proxy;
  };

  if (cases.includes('upload')) {
    const proxy = await newProxy();
    const isThis = (r: LogRecord): boolean => r['path'] === 'big.bin';
    const t0 = Date.now();
    const send = ferry(['send', source, `${proxy.addressText}/`]);
    const first = await holder(
      c,
      (r) => r['event'] === 'transfer-start' && isThis(r) && r['direction'] === 'upload',
    );
    const start = await first.waitForLog((r) => r['event'] === 'transfer-start' && isThis(r));
    const ofThis = sameTransfer(start);
    say(`upload held by server ${first.index}`);
    await first.waitForLog(
      (r) => r['event'] === 'progress' && ofThis(r) && (r['verifiedBytes'] as number) >= size / 2,
    );
    await first.kill();
    const heldAtCut = Math.max(
      ...first.records
        .filter((r) => r['event'] === 'progress' && ofThis(r))
        .map((r) => r['verifiedBytes'] as number),
    );
    const tCut = Date.now();
    say(`kill -9 server ${first.index}: ${heldAtCut} bytes durable in Swift`);
    const result = await send.done;
    const tDone = Date.now();
    if (result.code !== 0) throw new Error(`send exited ${result.code}: ${result.stderr}`);
    const second = c.servers.find((s) => s !== first && s.alive)!;
    const resumed = await second.waitForLog((r) => r['event'] === 'transfer-start' && isThis(r));
    const objectMatches = (await objectSha(client, bucket, `${c.keyPrefix}big.bin`)) === sourceSha;
    const sentAfter = proxy.bytesSince(1, 'clientToServer');
    const bound = size - heldAtCut + PART_BYTES;
    say(
      `upload resumed on server ${second.index} with ${String(resumed['heldBytes'])} held; sent after the cut ` +
        `${sentAfter} (missing ${size - heldAtCut} + one part ${PART_BYTES} = ${bound}); object exact: ${objectMatches}`,
    );
    process.stdout.write(
      JSON.stringify({
        case: 'upload',
        size,
        killedServer: first.index,
        resumedOn: second.index,
        heldAtCut,
        resumedHeld: resumed['heldBytes'],
        sentBeforeCut: proxy.connections[0]!.bytes.clientToServer,
        sentAfterCut: sentAfter,
        missingPlusOnePart: bound,
        extraOverMissing: sentAfter - (size - heldAtCut),
        connections: proxy.connections.length,
        secondsToCut: (tCut - t0) / 1000,
        secondsAfterCut: (tDone - tCut) / 1000,
        objectExact: objectMatches,
      }) + '\n',
    );
    if (!objectMatches || sentAfter > bound * 1.01 + 16384) failed = true;
    await c.restart(first.index);
    say(`server ${first.index} restarted`);
  }

  if (cases.includes('download')) {
    if (!cases.includes('upload')) throw new Error('download fetches the object the upload case stored');
    const proxy = await newProxy();
    const out = join(dir, 'downloads');
    await mkdir(out);
    const isThis = (r: LogRecord): boolean => r['path'] === 'big.bin' && r['direction'] === 'download';
    const t0 = Date.now();
    const get = ferry(['get', `${proxy.addressText}/big.bin`, `${out}/`]);
    const first = await holder(c, (r) => r['event'] === 'transfer-start' && isThis(r));
    say(`download served by server ${first.index}`);
    const connection = await proxy.connection(0);
    await connection.waitForBytes('serverToClient', size / 2);
    await first.kill();
    const tCut = Date.now();
    await connection.closed;
    const receivedBeforeCut = connection.bytes.serverToClient;
    say(`kill -9 server ${first.index}: ${receivedBeforeCut} bytes had reached the client`);
    const result = await get.done;
    const tDone = Date.now();
    if (result.code !== 0) throw new Error(`get exited ${result.code}: ${result.stderr}`);
    const second = c.servers.find((s) => s !== first && s.alive)!;
    const fileMatches = (await sha256File(join(out, 'big.bin'))) === sourceSha;
    const receivedAfter = proxy.bytesSince(1, 'serverToClient');
    const bound = size - receivedBeforeCut + PART_BYTES;
    say(
      `download resumed on server ${second.index}; received after the cut ${receivedAfter} (missing ` +
        `${size - receivedBeforeCut} + one part = ${bound}); file exact: ${fileMatches}`,
    );
    process.stdout.write(
      JSON.stringify({
        case: 'download',
        size,
        killedServer: first.index,
        resumedOn: second.index,
        receivedBeforeCut,
        receivedAfterCut: receivedAfter,
        missingPlusOnePart: bound,
        extraOverMissing: receivedAfter - (size - receivedBeforeCut),
        connections: proxy.connections.length,
        secondsToCut: (tCut - t0) / 1000,
        secondsAfterCut: (tDone - tCut) / 1000,
        fileExact: fileMatches,
      }) + '\n',
    );
    if (!fileMatches || receivedAfter > bound * 1.01 + 16384) failed = true;
  }
  if (cases.includes('tree')) {
    const count = Number(values.files);
    const tree = join(dir, 'tree');
    for (let i = 0; i < count; i++) {
      const name = `d${i % 10}/f${String(i).padStart(5, '0')}.txt`;
      await mkdir(join(tree, `d${i % 10}`), { recursive: true });
      await writeFile(join(tree, name), Buffer.alloc(1024, `${name} `));
    }
    for (const [index, server] of c.servers.entries()) if (!server.alive) await c.restart(index);
    const proxy = await newProxy();
    const inTree = (r: LogRecord): boolean => typeof r['path'] === 'string' && r['path'].startsWith('tree/');
    const stored = (r: LogRecord): boolean =>
      (r['event'] === 'transfer-done' || r['event'] === 'transfer-identical') && inTree(r);
    const t0 = Date.now();
    const send = ferry(['send', '-r', tree, `${proxy.addressText}/`]);
    const first = await holder(c, (r) => r['event'] === 'transfer-start' && inTree(r));
    say(`tree of ${count} files held by server ${first.index}`);
    await first.waitForLog(() => first.records.filter(stored).length >= count / 2);
    await first.kill();
    const tCut = Date.now();
    const storedAtCut = first.records.filter(stored).length;
    say(`kill -9 server ${first.index}: ${storedAtCut} files stored`);
    const result = await send.done;
    const tDone = Date.now();
    if (result.code !== 0) throw new Error(`send -r exited ${result.code}: ${result.stderr}`);
    const second = c.servers.find((s) => s !== first && s.alive)!;
    const storedAfter = second.records.filter(stored).length;
    let exact = 0;
    for (let i = 0; i < count; i++) {
      const name = `d${i % 10}/f${String(i).padStart(5, '0')}.txt`;
      const out = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: `${c.keyPrefix}tree/${name}` }),
      );
      if (Buffer.from(await out.Body!.transformToByteArray()).equals(Buffer.alloc(1024, `${name} `))) exact++;
    }
    const record = {
      case: 'tree',
      files: count,
      killedServer: first.index,
      resumedOn: second.index,
      storedAtCut,
      storedAfterCut: storedAfter,
      sentBeforeCut: proxy.connections[0]!.bytes.clientToServer,
      sentAfterCut: proxy.bytesSince(1, 'clientToServer'),
      connections: proxy.connections.length,
      secondsToCut: (tCut - t0) / 1000,
      secondsAfterCut: (tDone - tCut) / 1000,
      objectsExact: exact,
    };
    say(
      `tree resumed on server ${second.index}: ${storedAfter} files stored after the cut; ${exact}/${count} objects exact`,
    );
    process.stdout.write(`${JSON.stringify(record)}\n`);
    if (exact !== count) failed = true;
  }
  client.destroy();
} catch (err) {
  failed = true;
  process.stderr.write(`kill-test failed: ${(err as Error).stack ?? String(err)}\n`);
  for (const server of cluster?.servers ?? [])
    process.stderr.write(
      `server ${server.index} last lines:\n${server.records
        .filter((r) => r['event'] !== 'session' || r['result'] !== 'ok')
        .slice(-8)
        .map((r) => JSON.stringify(r))
        .join('\n')}\n`,
    );
} finally {
  await stopAll();
}
process.exit(failed ? 1 : 0);
