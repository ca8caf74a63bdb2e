// The cluster case (issue 15): how fast is ferry through HAProxy to two servers that keep files in
// OpenStack Swift (s3api), beside one ferry server on the local disk, and where does the cluster's time go?
// In one run, on one file (the bench's --size):
//   - Swift alone: a plain aws-sdk multipart upload of the same bytes in ferry's part size, one part after
//     the other as a server writes them, then one GET of the object: the store's own rate, no ferry.
//   - ferry upload and download with one server on disk (`ferry serve --root`, no store).
//   - ferry upload and download through HAProxy to two servers on Swift with etcd coordination
//     (scripts/cluster/ferry-cluster.ts), both servers' CPU measured.
//   - The cluster upload split by the receiving server's own log lines: from its start line to its last
//     progress line (receiving, hashing, writing parts to Swift) and from there to its done line (completing
//     the multipart upload: every part copied into the object, UploadPartCopy), and the download from the
//     sending server's start line to its done line.
// One run each (minutes per GiB on Swift here); JSON lines and a table on stdout.
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3StoreClient } from '../src/objectstore/index.js';
import { PartLayout } from '../src/objectstore/part-layout.js';
import { DEFAULT_CHUNK_BYTES } from '../src/protocol/index.js';
import { ferryEnv } from '../test/helpers/cli.js';
import { startEtcdNode } from '../scripts/cluster/etcd-node.js';
import { startFerryCluster, type FerryCluster, type LogRecord } from '../scripts/cluster/ferry-cluster.js';
import { freePort } from '../scripts/cluster/free-port.js';
import { startSwiftNode } from '../scripts/cluster/swift-node.js';
import { markdownTable } from './lib/markdown-table.js';
import { ServerMeter, type ServerUsage } from './lib/server-meter.js';
import { expectSuccess, runTimed, type TimedResult } from './lib/timed-process.js';
import { sha256File } from '../test/helpers/random-file.js';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface ClusterCaseOptions {
  /** A scratch directory of the bench's (removed by the bench). */
  readonly dir: string;
  /** The ferry CLI snapshot the bench runs. */
  readonly bin: string;
  readonly largeFile: string;
  readonly sizeBytes: number;
  readonly log: (line: string) => void;
  readonly emit: (record: Record<string, unknown>) => void;
}

interface ClusterRow {
  what: string;
  where: string;
  wallMs: number;
  clientCpuSeconds?: number;
  serverCpuSeconds?: number;
  note?: string;
}

const MB = 1e6;
const BENCH = 'ferry-bench';

/** Swift alone: a multipart upload in `partBytes` parts, one after the other, then a GET of the object. */
async function swiftAlone(
  client: S3Client,
  bucket: string,
  file: string,
  size: number,
  partBytes: number,
): Promise<{ writeMs: number; completeMs: number; readMs: number }> {
  const key = 'swift-alone/large.bin';
  const t0 = performance.now();
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const parts: Array<{ PartNumber: number; ETag: string }> = [];
  for (let n = 1, at = 0; at < size; n++, at += partBytes) {
    const length = Math.min(partBytes, size - at);
    const out = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        PartNumber: n,
        ContentLength: length,
        Body: createReadStream(file, { start: at, end: at + length - 1 }),
      }),
    );
    parts.push({ PartNumber: n, ETag: out.ETag! });
  }
  const t1 = performance.now();
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
  const t2 = performance.now();
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  let read = 0;
  for await (const piece of got.Body as AsyncIterable<Buffer>) read += piece.length;
  const t3 = performance.now();
  if (read !== size) throw new Error(`Swift returned ${read} bytes of ${size}`);
  return { writeMs: t1 - t0, completeMs: t2 - t1, readMs: t3 - t2 };
}

/** Runs `client` while measuring every server pid; the sum of their CPU seconds. */
async function measuredOn(
  pids: readonly number[],
  client: () => Promise<TimedResult>,
  what: string,
): Promise<[TimedResult, number]> {
  const meters = await Promise.all(pids.map((pid) => ServerMeter.start(pid)));
  try {
    const result = expectSuccess(await client(), what);
    const usages: ServerUsage[] = [];
    for (const meter of meters) usages.push(await meter.finish());
    return [result, usages.reduce((sum, u) => sum + u.cpuSeconds, 0)];
  } finally {
    for (const meter of meters) await meter.stop();
  }
}

/** One `ferry serve --root ROOT` on disk with the cluster's home (same identity, same allowed client). */
async function diskServer(
  bin: string,
  home: string,
  root: string,
): Promise<{ pid: number; port: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [bin, '--home', home, 'serve', '--root', root, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: ferryEnv() },
  );
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (/^\s*listen:\s+\S+/.test(line)) resolve();
    });
    void exited.then(() => reject(new Error(`ferry serve exited (${child.exitCode}) before listening`)));
  });
  return {
    pid: child.pid!,
    port,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

function timeOf(record: LogRecord | undefined): number {
  return typeof record?.['time'] === 'number' ? record['time'] : Number.NaN;
}

export async function runClusterCase(o: ClusterCaseOptions): Promise<void> {
  const dir = join(o.dir, 'cluster');
  await mkdir(dir, { recursive: true });
  o.log('cluster: starting Swift and etcd...');
  const swift = await startSwiftNode();
  const etcd = await startEtcdNode().catch(async (err: unknown) => {
    await swift.stop();
    throw err;
  });
  let cluster: FerryCluster | undefined;
  const client = s3StoreClient({
    endpoint: swift.endpoint,
    region: swift.region,
    credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
  });
  const rows: ClusterRow[] = [];
  try {
    const bucket = 'bench';
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const size = o.sizeBytes;
    const clientHome = join(dir, 'client-home');
    const ferry = (args: readonly string[]): Promise<TimedResult> =>
      runTimed(process.execPath, [o.bin, '--home', clientHome, ...args], { env: ferryEnv() });
    expectSuccess(await ferry(['keygen']), 'ferry keygen');
    const id = spawnSync(process.execPath, [o.bin, '--home', clientHome, 'id'], {
      encoding: 'utf8',
      env: ferryEnv(),
    }).stdout.trim();

    const partBytes = new PartLayout(size, DEFAULT_CHUNK_BYTES).partBytes;
    o.log(`cluster: Swift alone, multipart upload in ${partBytes / 2 ** 20} MiB parts...`);
    const alone = await swiftAlone(client, bucket, o.largeFile, size, partBytes);
    rows.push(
      {
        what: 'upload',
        where: 'Swift alone (aws-sdk multipart, parts in turn)',
        wallMs: alone.writeMs + alone.completeMs,
        note: `parts ${Math.round(alone.writeMs)} ms + complete ${Math.round(alone.completeMs)} ms`,
      },
      { what: 'download', where: 'Swift alone (aws-sdk GET)', wallMs: alone.readMs },
    );

    cluster = await startFerryCluster({
      swift,
      bucket,
      etcdEndpoint: etcd.endpoint,
      dir,
      bin: o.bin,
      clients: [id],
      prefix: 'bench/',
    });
    const c = cluster;
    const via = `${c.haproxy.host}:${c.haproxy.port}`;
    const pids = c.servers.map((s) => s.process.pid!);

    // One server on disk, same identity and client: the single-server numbers beside the cluster's.
    const root = join(dir, 'disk-root');
    await mkdir(join(root, 'dl'), { recursive: true });
    const disk = await diskServer(o.bin, c.home, root);
    try {
      o.log('cluster: ferry upload to one server on disk...');
      const [up, upCpu] = await measuredOn(
        [disk.pid],
        () => ferry(['send', o.largeFile, `127.0.0.1:${disk.port}/dl/`, '--expect', c.id]),
        'ferry send (disk)',
      );
      rows.push({
        what: 'upload',
        where: 'ferry, one server on disk',
        wallMs: up.wallMs,
        clientCpuSeconds: up.cpuSeconds,
        serverCpuSeconds: upCpu,
      });
      const out = join(dir, 'out-disk');
      await mkdir(out);
      o.log('cluster: ferry download from one server on disk...');
      const [down, downCpu] = await measuredOn(
        [disk.pid],
        () => ferry(['get', `127.0.0.1:${disk.port}/dl/large.bin`, `${out}/`, '--expect', c.id]),
        'ferry get (disk)',
      );
      rows.push({
        what: 'download',
        where: 'ferry, one server on disk',
        wallMs: down.wallMs,
        clientCpuSeconds: down.cpuSeconds,
        serverCpuSeconds: downCpu,
      });
      await rm(out, { recursive: true, force: true });
    } finally {
      await disk.stop();
      await rm(root, { recursive: true, force: true });
    }

    o.log('cluster: ferry upload through HAProxy to two servers on Swift...');
    const [up, upCpu] = await measuredOn(
      pids,
      () => ferry(['send', o.largeFile, `${via}/`, '--expect', c.id]),
      'ferry send (cluster)',
    );
    const isUp = (r: LogRecord): boolean => r['path'] === 'large.bin' && r['direction'] === 'upload';
    const receiver = c.servers.find((s) => s.records.some((r) => r['event'] === 'transfer-done' && isUp(r)))!;
    const start = receiver.records.find((r) => r['event'] === 'transfer-start' && isUp(r));
    const ofUp = (r: LogRecord): boolean =>
      r['session'] === start?.['session'] && r['ref'] === start?.['ref'];
    const lastProgress = receiver.records.filter((r) => r['event'] === 'progress' && ofUp(r)).at(-1);
    const done = receiver.records.find((r) => r['event'] === 'transfer-done' && isUp(r));
    const receiveMs = timeOf(lastProgress) - timeOf(start);
    const completeMs = timeOf(done) - timeOf(lastProgress);
    rows.push({
      what: 'upload',
      where: 'ferry, HAProxy + 2 servers on Swift',
      wallMs: up.wallMs,
      clientCpuSeconds: up.cpuSeconds,
      serverCpuSeconds: upCpu,
      note: `server ${receiver.index}: receive+hash+parts to Swift ${receiveMs} ms, complete (part copies) ${completeMs} ms`,
    });

    o.log('cluster: ferry download through HAProxy from two servers on Swift...');
    const out = join(dir, 'out-cluster');
    await mkdir(out);
    const [down, downCpu] = await measuredOn(
      pids,
      () => ferry(['get', `${via}/large.bin`, `${out}/`, '--expect', c.id]),
      'ferry get (cluster)',
    );
    if ((await sha256File(join(out, 'large.bin'))) !== (await sha256File(o.largeFile)))
      throw new Error('the file downloaded from the cluster differs from the source');
    const isDown = (r: LogRecord): boolean => r['path'] === 'large.bin' && r['direction'] === 'download';
    const sender = c.servers.find((s) => s.records.some((r) => r['event'] === 'transfer-done' && isDown(r)))!;
    const dStart = sender.records.find((r) => r['event'] === 'transfer-start' && isDown(r));
    const dDone = sender.records.find((r) => r['event'] === 'transfer-done' && isDown(r));
    rows.push({
      what: 'download',
      where: 'ferry, HAProxy + 2 servers on Swift',
      wallMs: down.wallMs,
      clientCpuSeconds: down.cpuSeconds,
      serverCpuSeconds: downCpu,
      note: `server ${sender.index}: start to done ${timeOf(dDone) - timeOf(dStart)} ms (ranged GETs, hashing, sending)`,
    });
    await rm(out, { recursive: true, force: true });
  } finally {
    client.destroy();
    await cluster?.stop();
    await etcd.stop();
    await swift.stop();
  }
  for (const row of rows)
    o.emit({
      bench: BENCH,
      case: 'cluster',
      bytes: o.sizeBytes,
      ...row,
      mbPerSecond: round(o.sizeBytes / MB / (row.wallMs / 1000)),
    });
  const table = markdownTable(
    [
      ['cluster case', 'where', 'MB/s', 'wall s', 'CPU s client', 'CPU s servers', 'where the time goes'],
      ...rows.map((r) => [
        r.what,
        r.where,
        round(o.sizeBytes / MB / (r.wallMs / 1000)).toFixed(1),
        (r.wallMs / 1000).toFixed(2),
        r.clientCpuSeconds?.toFixed(2) ?? '',
        r.serverCpuSeconds?.toFixed(2) ?? '',
        r.note ?? '',
      ]),
    ],
    [2, 3, 4, 5],
  );
  process.stdout.write(`\n${table}\n`);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
