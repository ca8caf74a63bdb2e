// Case `delta` (issue 16): one large file changed a little, replaced with ferry (`send --overwrite`, `get
// --overwrite`) and with rsync over ssh, same run, loopback. Two edits of a random file of `--size`: 1 MiB
// rewritten in place at 3 places, and 1 KiB inserted near the start. Wire bytes are counted at a proxy in
// front of each server (both directions, everything on the connection: handshake, signature, data, MACs),
// time is the client process's wall clock, from spawn to exit. Not the same work: ferry makes the new file
// durable (fsync) before its rename and checks every chunk and the whole file with SHA-256; rsync (3.2+) does
// not fsync and checks with xxh128. ferry keeps both (durability and security), and the note says so.
//
// WARM rows beside them (issue 16): the same edits, but the receiver's old file was written by an earlier
// ferry transfer of it (upload: `ferry send` of the old file first; download: `ferry get` of it first; both
// untimed, through their own server and proxy), so ferry's store of leaf hashes (`KnownLeafHashes`) knows it
// and the timed delta hashes none of it. rsync runs beside it in the same run exactly as in the cold rows: it
// keeps no such memory between runs, so its rows are the cold ones' again.
//
// OUT OF CACHE rows (in-place edit only): as the cold rows, but both files' pages are dropped from the page
// cache right before each timed run (after the sync: `dd iflag=nocache count=0`, the file's pages alone,
// not every program's), as a receiver's old file untouched for a while is. Every other row starts with both
// files cached: they were copied into place just before.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { ferryEnv } from '../test/helpers/cli.js';
import { FaultProxy } from '../test/helpers/fault-proxy.js';
import { sha256File, writeRandomFile } from '../test/helpers/random-file.js';
import type { FerryPeers } from './lib/ferry-peers.js';
import { freePort } from '../scripts/cluster/free-port.js';
import type { LoopbackSshd } from './lib/loopback-sshd.js';
import { settleMemory } from './lib/settle-memory.js';
import { formatSize } from './lib/parse-size.js';
import { ServerMeter } from './lib/server-meter.js';
import { expectSuccess, runTimed, type TimedResult } from './lib/timed-process.js';

const MIB = 2 ** 20;

/**
 * The directions measured: both, or the one FERRY_BENCH_DELTA_DIRECTION names (`upload` or `download`), for
 * loops on one side's work. Every edit and both tools still run; nothing in a case changes.
 */
function deltaDirections(): ReadonlyArray<'upload' | 'download'> {
  const only = process.env['FERRY_BENCH_DELTA_DIRECTION'];
  if (only === undefined || only === '') return ['upload', 'download'];
  if (only !== 'upload' && only !== 'download')
    throw new Error(`FERRY_BENCH_DELTA_DIRECTION must be upload or download, not ${only}`);
  return [only];
}

/**
 * The rows measured: every kind, or those FERRY_BENCH_DELTA_ROWS names (comma-separated: `cold`, `warm`,
 * `uncached`), for loops on one row. Edits are narrowed by FERRY_BENCH_DELTA_EDIT (`in-place` or `insert`).
 */
function deltaRowKinds(): ReadonlySet<string> {
  const kinds = ['cold', 'warm', 'uncached'];
  const only = process.env['FERRY_BENCH_DELTA_ROWS'];
  if (only === undefined || only === '') return new Set(kinds);
  const named = only.split(',');
  for (const kind of named)
    if (!kinds.includes(kind))
      throw new Error(`FERRY_BENCH_DELTA_ROWS names ${kinds.join(', ')}, not ${kind}`);
  return new Set(named);
}

function deltaEdits(): Edit[] {
  const only = process.env['FERRY_BENCH_DELTA_EDIT'];
  if (only === undefined || only === '') return EDITS;
  const edit = EDITS.find((e) => e.key === only);
  if (!edit) throw new Error(`FERRY_BENCH_DELTA_EDIT must be in-place or insert, not ${only}`);
  return [edit];
}

/** What the case needs from bench/run.ts. */
export interface DeltaBench {
  dir: string;
  sizeBytes: number;
  runs: number;
  ferry: FerryPeers;
  sshd: LoopbackSshd | undefined;
  emit: (record: Record<string, unknown>) => void;
  log: (line: string) => void;
}

interface Edit {
  /** Its name in FERRY_BENCH_DELTA_EDIT. */
  key: string;
  name: string;
  /** Rows with both files out of the page cache too (the in-place edit: the time target). */
  outOfCacheRows?: boolean;
  /** Writes the edited copy of `old` to `next`. */
  make(old: string, next: string, size: number): Promise<void>;
}

const EDITS: Edit[] = [
  {
    key: 'in-place',
    name: '1 MiB rewritten at 3 places',
    outOfCacheRows: true,
    async make(old, next, size) {
      await copyFile(old, next);
      const file = await open(next, 'r+');
      try {
        for (const at of [Math.floor(size / 4), Math.floor(size / 2), Math.floor((3 * size) / 4)])
          await file.write(randomBytes(MIB), 0, MIB, at);
      } finally {
        await file.close();
      }
    },
  },
  {
    key: 'insert',
    name: '1 KiB inserted near the start',
    async make(old, next) {
      const from = await open(old, 'r');
      const to = await open(next, 'w');
      try {
        const head = Buffer.alloc(10_000);
        await from.read(head, 0, head.length, 0);
        await to.write(head, 0, head.length, 0);
        await to.write(randomBytes(1024), 0, 1024, head.length);
        const buffer = Buffer.allocUnsafe(8 * MIB);
        for (let at = head.length, out = head.length + 1024; ;) {
          const { bytesRead } = await from.read(buffer, 0, buffer.length, at);
          if (bytesRead === 0) break;
          await to.write(buffer, 0, bytesRead, out);
          at += bytesRead;
          out += bytesRead;
        }
      } finally {
        await from.close();
        await to.close();
      }
    },
  },
];

/**
 * The tools of every delta case, in the order of even runs (odd runs take them in reverse). `rsync --fsync`
 * syncs each file it writes before its rename, as ferry does: what the same durability costs rsync. The
 * targets are against plain rsync.
 */
const TOOLS = ['ferry', 'rsync', 'rsync --fsync'] as const;
type Tool = (typeof TOOLS)[number];

interface DeltaSample {
  wallMs: number;
  wireBytes: number;
  clientCpuSeconds: number;
  serverCpuSeconds: number;
}

/**
 * Runs the case: every edit, both directions, ferry and rsync taking turns in each run; prints the table on
 * stdout after the JSON lines. True when every tool ran.
 */
export async function runDeltaCases(b: DeltaBench): Promise<boolean> {
  const dir = join(b.dir, 'delta');
  await mkdir(dir, { recursive: true });
  const old = join(dir, 'old.bin');
  const next = join(dir, 'next.bin');
  b.log(`delta: writing ${formatSize(b.sizeBytes)} of random data...`);
  await writeRandomFile(old, b.sizeBytes);
  const rows: DeltaRow[] = [];
  const kinds = deltaRowKinds();
  for (const edit of deltaEdits()) {
    await edit.make(old, next, b.sizeBytes);
    const want = await sha256File(next);
    for (const [direction, warm, uncached] of deltaDirections().flatMap((d) => [
      ...(kinds.has('cold') ? [[d, false, false] as const] : []),
      ...(kinds.has('warm') ? [[d, true, false] as const] : []),
      ...(edit.outOfCacheRows && kinds.has('uncached') ? [[d, false, true] as const] : []),
    ])) {
      const suffix = warm ? WARM_LABEL : uncached ? OUT_OF_CACHE_LABEL : '';
      const samples = new Map<Tool, DeltaSample[]>();
      const errors = new Map<Tool, string>();
      for (let run = 0; run < b.runs; run++) {
        // Who goes first alternates from run to run: what one tool leaves behind reaches both alike.
        for (const tool of run % 2 === 0 ? TOOLS : [...TOOLS].reverse()) {
          if (errors.has(tool) || (tool !== 'ferry' && !b.sshd)) continue;
          const label = `delta ${direction}, ${edit.name}${suffix}: ${tool} (run ${run + 1}/${b.runs})`;
          b.log(label);
          const place = join(dir, `run-${tool}`);
          await rm(place, { recursive: true, force: true });
          await mkdir(join(place, 'remote'), { recursive: true });
          await mkdir(join(place, 'local'), { recursive: true });
          // The receiver holds the old file, older than the new one (rsync's quick check must not skip it).
          const [held, sent] =
            direction === 'upload'
              ? [join(place, 'remote', 'large.bin'), join(place, 'local', 'large.bin')]
              : [join(place, 'local', 'large.bin'), join(place, 'remote', 'large.bin')];
          if (warm && tool === 'ferry') {
            // Written by ferry: its mtime (older than the new file's) set before, and carried by the transfer
            // (a utimes after it would move the ctime: the store would no longer know the file).
            await ferryPlaceOld(b, direction, place, old);
          } else {
            await copyFile(old, held);
            await utimes(held, 1_600_000_000, 1_600_000_000);
          }
          await copyFile(next, sent);
          spawnSync('sync');
          settleMemory();
          if (uncached) for (const file of [held, sent]) dropFromPageCache(file);
          try {
            const sample =
              tool === 'ferry'
                ? await ferryRun(b, direction, place)
                : await rsyncRun(b, direction, place, tool === 'rsync --fsync');
            if ((await sha256File(held)) !== want)
              throw new Error('the replaced file differs from the new one');
            samples.set(tool, [...(samples.get(tool) ?? []), sample]);
          } catch (err) {
            errors.set(tool, (err as Error).message);
            b.log(`${label} failed: ${(err as Error).message}`);
          } finally {
            await rm(place, { recursive: true, force: true });
          }
        }
      }
      const caseRows = summarize(
        b,
        `delta ${direction} ${formatSize(b.sizeBytes)}, ${edit.name}${suffix}`,
        samples,
        errors,
        warm,
      );
      rows.push(...caseRows);
    }
  }
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`\n${deltaTable(rows)}\n`);
  return rows.every((r) => r.error === undefined);
}

/** What a WARM row's case says: the receiver's old file was written by ferry before the timed delta. */
const WARM_LABEL = ', WARM (old file written by ferry)';

/** What an OUT OF CACHE row's case says: neither file was in the page cache when the timed run began. */
const OUT_OF_CACHE_LABEL = ', OUT OF CACHE (both files read from the disk)';

/**
 * Drops `file`'s clean pages from the page cache (GNU dd: `iflag=nocache count=0` advises the kernel to drop
 * the whole file's), synced before, so the run reads it from the disk; throws if dd fails.
 */
function dropFromPageCache(file: string): void {
  const dd = spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none'], { encoding: 'utf8' });
  if (dd.status !== 0) throw new Error(`dd iflag=nocache ${file} failed: ${dd.stderr.trim()}`);
}

/**
 * A WARM row's preparation, untimed: the receiver's old file is put there by ferry itself (upload: `send` of
 * `old` into a fresh `place/remote`; download: `get` of it into `place/local`), through a server and proxy of
 * its own, so the timed run's server and proxy count only the delta. The old file's mtime is set before the
 * transfer carries it.
 */
async function ferryPlaceOld(
  b: DeltaBench,
  direction: 'upload' | 'download',
  place: string,
  old: string,
): Promise<void> {
  const from =
    direction === 'upload' ? join(place, 'prepare', 'large.bin') : join(place, 'remote', 'large.bin');
  await mkdir(join(place, 'prepare'), { recursive: true });
  await copyFile(old, from);
  await utimes(from, 1_600_000_000, 1_600_000_000);
  const listen = `127.0.0.1:${await freePort()}`;
  const server = await b.ferry.startServer(join(place, 'remote'), listen);
  const [host, port] = listen.split(':');
  const proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
  try {
    await b.ferry.trust(proxy.addressText);
    const args =
      direction === 'upload'
        ? ['send', '-q', from, `${proxy.addressText}/large.bin`]
        : ['get', '-q', `${proxy.addressText}/large.bin`, join(place, 'local')];
    const [command, full] = b.ferry.clientCommand(args);
    expectSuccess(await runTimed(command, full, { env: ferryEnv() }), `ferry ${args[0]} (warm-up)`);
  } finally {
    await proxy.close();
    await server.stop();
    await rm(join(place, 'prepare'), { recursive: true, force: true });
  }
}

/** One ferry replacement through a counting proxy in front of a fresh `ferry serve` of `place/remote`. */
async function ferryRun(
  b: DeltaBench,
  direction: 'upload' | 'download',
  place: string,
): Promise<DeltaSample> {
  const listen = `127.0.0.1:${await freePort()}`;
  const server = await b.ferry.startServer(join(place, 'remote'), listen);
  const [host, port] = listen.split(':');
  const proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
  try {
    await b.ferry.trust(proxy.addressText);
    const args =
      direction === 'upload'
        ? ['send', '-q', '--overwrite', join(place, 'local', 'large.bin'), `${proxy.addressText}/large.bin`]
        : ['get', '-q', '--overwrite', `${proxy.addressText}/large.bin`, join(place, 'local')];
    const [command, full] = b.ferry.clientCommand(args);
    return await measure(
      server.pid,
      proxy,
      () => runTimed(command, full, { env: ferryEnv() }),
      `ferry ${args[0]}`,
    );
  } finally {
    await proxy.close();
    await server.stop();
  }
}

/** One rsync replacement (no options but -e) through a counting proxy in front of a fresh sshd. */
async function rsyncRun(
  b: DeltaBench,
  direction: 'upload' | 'download',
  place: string,
  fsync: boolean,
): Promise<DeltaSample> {
  const sshd = await b.sshd!.start();
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: sshd.port } });
  try {
    const rsh = b.sshd!.rshCommand(proxy.address.port);
    const remote = `root@127.0.0.1:${join(place, 'remote', 'large.bin')}`;
    const local = join(place, 'local', 'large.bin');
    const options = fsync ? ['--fsync', '-e', rsh] : ['-e', rsh];
    const args = direction === 'upload' ? [...options, local, remote] : [...options, remote, local];
    return await measure(sshd.pid, proxy, () => runTimed('rsync', args), 'rsync');
  } finally {
    await proxy.close();
    await sshd.stop();
  }
}

async function measure(
  pid: number,
  proxy: FaultProxy,
  client: () => Promise<TimedResult>,
  what: string,
): Promise<DeltaSample> {
  const meter = await ServerMeter.start(pid);
  try {
    const result = expectSuccess(await client(), what);
    const usage = await meter.finish();
    return {
      wallMs: result.wallMs,
      wireBytes: proxy.totalBytes('clientToServer') + proxy.totalBytes('serverToClient'),
      clientCpuSeconds: result.cpuSeconds,
      serverCpuSeconds: usage.cpuSeconds,
    };
  } finally {
    await meter.stop();
  }
}

/** One row of the delta table: medians over the runs. */
export interface DeltaRow {
  case: string;
  tool: string;
  wallMs: number;
  wireBytes: number;
  clientCpuSeconds: number;
  serverCpuSeconds: number;
  /** ferry's over rsync's, in the same case (targets: wire ≤ 2, time ≤ 1). */
  wireVsRsync?: number;
  timeVsRsync?: number;
  /** ferry's time over `rsync --fsync`'s: against the same durability. */
  timeVsRsyncFsync?: number;
  error?: string;
}

function summarize(
  b: DeltaBench,
  label: string,
  samples: Map<Tool, DeltaSample[]>,
  errors: Map<Tool, string>,
  warm = false,
): DeltaRow[] {
  const med = (values: number[]): number => {
    const sorted = [...values].sort((x, y) => x - y);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const rows: DeltaRow[] = [];
  for (const tool of TOOLS) {
    const s = samples.get(tool) ?? [];
    const error = errors.get(tool) ?? (s.length === 0 ? 'not run (no sshd or rsync)' : undefined);
    rows.push({
      case: label,
      tool,
      wallMs: s.length ? med(s.map((x) => x.wallMs)) : NaN,
      wireBytes: s.length ? med(s.map((x) => x.wireBytes)) : NaN,
      clientCpuSeconds: s.length ? med(s.map((x) => x.clientCpuSeconds)) : NaN,
      serverCpuSeconds: s.length ? med(s.map((x) => x.serverCpuSeconds)) : NaN,
      ...(error !== undefined ? { error } : {}),
    });
  }
  const [ferry, rsync, rsyncFsync] = rows;
  if (ferry && rsync && ferry.error === undefined && rsync.error === undefined) {
    ferry.wireVsRsync = round(ferry.wireBytes / rsync.wireBytes);
    ferry.timeVsRsync = round(ferry.wallMs / rsync.wallMs);
  }
  if (ferry && rsyncFsync && ferry.error === undefined && rsyncFsync.error === undefined)
    ferry.timeVsRsyncFsync = round(ferry.wallMs / rsyncFsync.wallMs);
  for (const row of rows)
    b.emit({
      bench: 'ferry-bench',
      ...row,
      note:
        row.tool === 'ferry'
          ? 'bin/ferry send/get --overwrite (delta, PROTOCOL.md §5.15, §5.17); wire bytes at a proxy, both directions; ' +
            'fsyncs the new file before the rename and checks it with SHA-256' +
            (warm
              ? '; WARM: the old file was written by an earlier ferry transfer (untimed), its leaf hashes known'
              : '')
          : row.tool === 'rsync --fsync'
            ? 'rsync --fsync -e ssh: syncs the file it wrote before its rename, as ferry does; otherwise as rsync' +
              (warm ? '; the same work as the cold row' : '')
            : 'rsync -e ssh, no options; wire bytes at a proxy in front of sshd, both directions; ' +
              'rsync 3.2+ does not fsync and checks with xxh128' +
              (warm ? '; rsync keeps no memory of files it wrote: the same work as the cold row' : ''),
    });
  return rows;
}

/** The delta table (markdown), for the run's summary. */
function deltaTable(rows: readonly DeltaRow[]): string {
  const lines = [
    '| case | tool | wire MiB | s | wire vs rsync | time vs rsync | time vs rsync --fsync | CPU s client | CPU s server |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    if (r.error !== undefined) {
      lines.push(`| ${r.case} | ${r.tool} | failed: ${r.error} | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.case} | ${r.tool} | ${(r.wireBytes / MIB).toFixed(2)} | ${(r.wallMs / 1000).toFixed(2)} | ` +
        `${r.wireVsRsync?.toFixed(2) ?? ''} | ${r.timeVsRsync?.toFixed(2) ?? ''} | ` +
        `${r.timeVsRsyncFsync?.toFixed(2) ?? ''} | ` +
        `${r.clientCpuSeconds.toFixed(2)} | ${r.serverCpuSeconds.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
