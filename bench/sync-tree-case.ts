// Case `sync` (issue 16): a tree of 1,000 files of 4-64 KiB mirrored with `ferry sync` and with `rsync -a`
// over ssh, each through its own counting proxy on loopback. Three phases per tool: the first copy (full),
// a re-sync after 10 files changed a little (a few hundred bytes rewritten in place), and a re-sync of the
// unchanged tree (what the quick check of size and mtime costs). Wire bytes are counted in both directions
// at the proxy; time is the client's wall time, the client run as an installed `ferry` runs (bin/ferry's
// launcher, which leaves NODE_EXTRA_CA_CERTS out of a client's environment: see its comment).
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ferryEnv } from '../test/helpers/cli.js';
import { FaultProxy } from '../test/helpers/fault-proxy.js';
import type { FerryPeers } from './lib/ferry-peers.js';
import type { LoopbackSshd } from './lib/loopback-sshd.js';
import { median } from './lib/median.js';
import { expectSuccess, runTimed, type TimedResult } from './lib/timed-process.js';

/** What the case needs from the bench run. */
export interface SyncTreeCaseContext {
  dir: string;
  ferry: FerryPeers;
  ferryListen: string;
  /** Absent when OpenSSH or rsync is missing: ferry is measured alone and the table says so. */
  sshd: LoopbackSshd | undefined;
  runs: number;
  fileCount?: number;
  log: (line: string) => void;
  emit: (record: Record<string, unknown>) => void;
}

/** One tool's numbers for one phase (medians over the runs). */
export interface SyncTreeRow {
  tool: 'ferry sync' | 'rsync -a';
  phase: 'full' | 'changed' | 'unchanged';
  wallMs: number;
  upBytes: number;
  downBytes: number;
}

const KIB = 1024;
const CHANGED_FILES = 10;
const CHANGED_BYTES = 300;

/** Runs the case; prints one JSON record per tool and phase, and a table on stderr. */
export async function runSyncTreeCase(ctx: SyncTreeCaseContext): Promise<SyncTreeRow[]> {
  const fileCount = ctx.fileCount ?? 1000;
  const src = join(ctx.dir, 'sync-src');
  const files = await writeSyncTree(src, fileCount);
  // The tree's 33 MiB on disk before any tool runs: the first to run otherwise shared the disk with their
  // writeback (ferry's first sync fsyncs every file).
  execFileSync('sync');
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  ctx.log(`sync: a tree of ${fileCount} files, ${(totalBytes / 2 ** 20).toFixed(1)} MiB`);
  const tools: Array<{ tool: SyncTreeRow['tool']; start: () => Promise<Mirror> }> = [
    { tool: 'ferry sync', start: () => ferryMirror(ctx, src) },
  ];
  const sshd = ctx.sshd;
  if (sshd) tools.push({ tool: 'rsync -a', start: () => rsyncMirror(ctx, sshd, src) });
  else ctx.log('sync: OpenSSH or rsync missing: rsync is not measured');
  const samples = new Map<string, SyncTreeRow[]>();
  const mirrors = await Promise.all(tools.map(async (t) => ({ tool: t.tool, mirror: await t.start() })));
  try {
    for (const { tool, mirror } of mirrors) samples.set(`${tool}/full`, [await mirror.run('full')]);
    for (let run = 0; run < ctx.runs; run++) {
      // The same change for every tool: each re-syncs the same edited tree.
      await changeTreeFiles(files, run);
      for (const { mirror } of mirrors) {
        for (const phase of ['changed', 'unchanged'] as const) {
          const row = await mirror.run(phase);
          const key = `${row.tool}/${phase}`;
          samples.set(key, [...(samples.get(key) ?? []), row]);
        }
        await mirror.verify(files);
      }
    }
  } finally {
    await Promise.all(mirrors.map((m) => m.mirror.close()));
  }
  const rows: SyncTreeRow[] = [];
  for (const list of samples.values()) {
    const first = list[0]!;
    const row: SyncTreeRow = {
      tool: first.tool,
      phase: first.phase,
      wallMs: Math.round(median(list.map((r) => r.wallMs))),
      upBytes: Math.round(median(list.map((r) => r.upBytes))),
      downBytes: Math.round(median(list.map((r) => r.downBytes))),
    };
    rows.push(row);
    ctx.emit({
      bench: 'ferry-bench',
      case: 'sync',
      files: fileCount,
      bytes: totalBytes,
      runs: list.length,
      ...row,
    });
  }
  ctx.log('sync: tool        phase      wall ms  up bytes  down bytes');
  for (const r of rows)
    ctx.log(
      `sync: ${r.tool.padEnd(11)} ${r.phase.padEnd(9)} ${String(r.wallMs).padStart(8)} ${String(r.upBytes).padStart(9)} ${String(r.downBytes).padStart(11)}`,
    );
  return rows;
}

export interface TreeFile {
  path: string;
  size: number;
}

/** 1,000 files of random data, 4 to 64 KiB (spread evenly by index), 100 to a directory. */
export async function writeSyncTree(root: string, count: number): Promise<TreeFile[]> {
  const files: TreeFile[] = [];
  for (let i = 0; i < count; i++) {
    const dir = join(root, `d${String(Math.floor(i / 100)).padStart(2, '0')}`);
    if (i % 100 === 0) await mkdir(dir, { recursive: true });
    const size = 4 * KIB + ((i * 7919) % (60 * KIB + 1));
    const path = join(dir, `f${String(i).padStart(4, '0')}.bin`);
    await writeFile(path, randomBytes(size));
    files.push({ path, size });
  }
  return files;
}

/** Rewrites CHANGED_BYTES bytes in the middle of 10 files (other ones each run); their mtime moves. */
export async function changeTreeFiles(files: readonly TreeFile[], run: number): Promise<void> {
  const step = Math.floor(files.length / CHANGED_FILES);
  for (let k = 0; k < CHANGED_FILES; k++) {
    const file = files[(k * step + run * 7 + 3) % files.length]!;
    const handle = await open(file.path, 'r+');
    try {
      await handle.write(randomBytes(CHANGED_BYTES), 0, CHANGED_BYTES, Math.floor(file.size / 2));
    } finally {
      await handle.close();
    }
  }
}

/** One tool's destination: runs a phase, checks the copy, and stops what it started. */
interface Mirror {
  run(phase: SyncTreeRow['phase']): Promise<SyncTreeRow>;
  verify(files: readonly TreeFile[]): Promise<void>;
  close(): Promise<void>;
}

async function ferryMirror(ctx: SyncTreeCaseContext, src: string): Promise<Mirror> {
  const root = join(ctx.dir, 'sync-ferry-root');
  await mkdir(root, { recursive: true });
  const server = await ctx.ferry.startServer(root, ctx.ferryListen);
  const [host, port] = ctx.ferryListen.split(':');
  const proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
  await ctx.ferry.trust(proxy.addressText);
  return {
    run: (phase) =>
      measure(proxy, 'ferry sync', phase, () => {
        const [command, args] = ctx.ferry.clientCommand(['sync', src, `${proxy.addressText}/mirror`]);
        return runTimed(command, args, { env: ferryEnv() });
      }),
    verify: (files) => sameTreeContent(files, src, join(root, 'mirror')),
    close: async () => {
      await proxy.close();
      await server.stop();
    },
  };
}

async function rsyncMirror(ctx: SyncTreeCaseContext, sshd: LoopbackSshd, src: string): Promise<Mirror> {
  const dest = join(ctx.dir, 'sync-rsync-dest');
  const daemon = await sshd.start();
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: daemon.port } });
  return {
    run: (phase) =>
      measure(proxy, 'rsync -a', phase, () =>
        runTimed('rsync', [
          '-a',
          '-e',
          sshd.rshCommand(proxy.address.port),
          `${src}/`,
          `root@127.0.0.1:${dest}/`,
        ]),
      ),
    verify: (files) => sameTreeContent(files, src, dest),
    close: async () => {
      await proxy.close();
      await daemon.stop();
    },
  };
}

async function measure(
  proxy: FaultProxy,
  tool: SyncTreeRow['tool'],
  phase: SyncTreeRow['phase'],
  work: () => Promise<TimedResult>,
): Promise<SyncTreeRow> {
  const mark = proxy.connections.length;
  const result = expectSuccess(await work(), `${tool} (${phase})`);
  return {
    tool,
    phase,
    wallMs: result.wallMs,
    upBytes: proxy.bytesSince(mark, 'clientToServer'),
    downBytes: proxy.bytesSince(mark, 'serverToClient'),
  };
}

/** Every file of the tree arrived with the source's content. */
export async function sameTreeContent(files: readonly TreeFile[], src: string, dest: string): Promise<void> {
  for (const file of files) {
    const copy = join(dest, file.path.slice(src.length + 1));
    const [a, b] = await Promise.all([readFile(file.path), readFile(copy)]);
    const digest = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
    if (digest(a) !== digest(b)) throw new Error(`${copy}: content differs from the source`);
  }
}
