// Question: how does ferry's CLI compare, on this machine and in the same run, with a raw TCP copy (the
// ceiling), scp and rsync over OpenSSH (what users pick today), for one large file each way, many small
// files, a resumed upload and a long (40 ms round trip) link? Every tool runs as real processes on
// loopback; each side's CPU seconds and peak memory are measured the same way for all (bench/README.md).
//
//   npm run bench -- [--quick] [--runs 3] [--size 1G] [--files 1000] [--file-size 4K] [--link-size 256M]
//                    [--delay-ms 20] [--window 6M] [--cases upload,download,small,resume,link,handshake,pipeline,sync,delta,cluster]
//                    [--ferry-args="--chunk-size 8M"] [--verify first|all|none] [--keep]
//
// Prints one JSON line per case and tool ({"bench":"ferry-bench","case":...,"tool":...}), medians over the
// runs, then a table. Everything lives under one temp dir (os.tmpdir()), removed at the end; every process
// started is killed at the end, also on failure or Ctrl-C.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ferryEnv } from '../test/helpers/cli.js';
import { FaultProxy } from '../test/helpers/fault-proxy.js';
import { sha256File, writeRandomFile } from '../test/helpers/random-file.js';
import { makeTempDir } from '../test/helpers/temp-dir.js';
import { NOISE_PROTOCOL_NAME } from '../src/protocol/index.js';
import { runDeltaCases } from './delta-cases.js';
import { runClusterCase } from './cluster-case.js';
import { measureHandshakeCost, measureLoopbackHandshakeMs } from './handshake-cost.js';
import { killTracked, killTrackedOnExit } from './lib/child-registry.js';
import { cutAfterTotal } from './lib/cut-after-total.js';
import { DelayProxy } from './lib/delay-proxy.js';
import { ensureTools, type ToolName } from './lib/ensure-tools.js';
import { FerryPeers } from './lib/ferry-peers.js';
import { snapshotFerry } from './lib/ferry-snapshot.js';
import { freePort } from '../scripts/cluster/free-port.js';
import { LoopbackSshd, SSH_CIPHER, type SshdProcess } from './lib/loopback-sshd.js';
import { markdownTable } from './lib/markdown-table.js';
import { median } from './lib/median.js';
import { memoryAtStart, reportsFreePages, settleMemory } from './lib/settle-memory.js';
import { formatSize, parseSize } from './lib/parse-size.js';
import { resumedBytesOf } from './lib/resumed-bytes.js';
import { ServerMeter, type ServerUsage } from './lib/server-meter.js';
import {
  expectSuccess,
  runTimed,
  setTimeFileDir,
  startTimed,
  type TimedResult,
} from './lib/timed-process.js';
import { waitForListen } from './lib/wait-for-listen.js';
import { runSyncTreeCase } from './sync-tree-case.js';
import {
  cleanScratch,
  measureFloor,
  measureReceive,
  measureSend,
  perGiB,
  writeSourceFile,
  type PipelineMeasure,
} from './lib/pipeline-case.js';
import type { ThreadCpu } from './lib/thread-cpu.js';
import { smallDownTools } from './small-down-case.js';

const BENCH = 'ferry-bench';
const MIB = 2 ** 20;
const GIB = 2 ** 30;
/** socat's buffer for the raw TCP ceiling: 8 KiB buffers are ~2.8x slower here (ECOSYSTEM.md). */
const SOCAT_BUFFER_BYTES = 131072;
const CASES = [
  'upload',
  'download',
  'small',
  'small-down',
  'resume',
  'link',
  'handshake',
  'pipeline',
  'sync',
  'delta',
  'cluster',
] as const;
type CaseName = (typeof CASES)[number];

// ---------------------------------------------------------------------------------------------------------
// Options

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    size: { type: 'string' },
    files: { type: 'string' },
    'file-size': { type: 'string', default: '4K' },
    'link-size': { type: 'string' },
    'delay-ms': { type: 'string', default: '20' },
    window: { type: 'string' },
    cases: { type: 'string', default: CASES.join(',') },
    'ferry-args': { type: 'string', default: '' },
    verify: { type: 'string', default: 'first' },
    keep: { type: 'boolean', default: false },
  },
});

/** Linux's largest TCP receive buffer (tcp_rmem max): what one real TCP connection's window can grow to. */
function defaultWindowBytes(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/tcp_rmem', 'utf8').trim().split(/\s+/)[2]) || 6 * MIB;
  } catch {
    return 6 * MIB;
  }
}

const options = {
  runs: Number(flags.runs ?? (flags.quick ? 1 : 3)),
  sizeBytes: parseSize(flags.size ?? (flags.quick ? '64M' : '1G')),
  fileCount: Number(flags.files ?? (flags.quick ? 200 : 1000)),
  smallFileBytes: parseSize(flags['file-size']),
  linkBytes: parseSize(flags['link-size'] ?? (flags.quick ? '32M' : '256M')),
  oneWayDelayMs: Number(flags['delay-ms']),
  windowBytes: flags.window !== undefined ? parseSize(flags.window) : defaultWindowBytes(),
  cases: new Set(flags.cases.split(',').map((c) => c.trim()) as CaseName[]),
  ferryArgs: flags['ferry-args'].split(/\s+/).filter((a) => a !== ''),
  verify: flags.verify as 'first' | 'all' | 'none',
  keep: flags.keep,
};
for (const c of options.cases)
  if (!CASES.includes(c)) throw new Error(`unknown case ${c}; cases: ${CASES.join(', ')}`);
if (!(options.runs >= 1)) throw new Error('--runs must be at least 1');
if (!['first', 'all', 'none'].includes(options.verify)) throw new Error('--verify is first, all or none');

const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
const emit = (record: Record<string, unknown>): void =>
  void process.stdout.write(`${JSON.stringify(record)}\n`);

// ---------------------------------------------------------------------------------------------------------
// Measurements

/** One measured transfer: the numbers every table row has. */
interface Sample {
  wallMs: number;
  clientCpuSeconds: number;
  serverCpuSeconds: number;
  clientPeakRssBytes: number;
  serverPeakRssBytes: number;
}

/** The environment every tool of a case needs. */
interface Bench {
  dir: string;
  out: string;
  largeFile: string;
  linkFile: string;
  smallDir: string;
  sshd: LoopbackSshd | undefined;
  ferry: FerryPeers;
  ferryRoot: string;
  ferryListen: string;
  tools: Set<ToolName>;
}

/** One tool of one case; `run` does one measured transfer into a fresh destination. */
interface ToolRun {
  tool: string;
  /** What the row stands for, printed once in the JSON (`scp uses SFTP since OpenSSH 9`...). */
  note?: string;
  run(b: Bench, dest: string): Promise<Sample>;
  /** Checks the transfer landed intact (size always; SHA-256 when `deep`). */
  verify(b: Bench, dest: string, deep: boolean): Promise<void>;
}

let sequence = 0;
const unique = (): string => String(sequence++).padStart(3, '0');

function ferryClient(b: Bench, args: readonly string[]): Promise<TimedResult> {
  const [command, full] = b.ferry.clientCommand(args);
  return runTimed(command, full, { env: ferryEnv() });
}

/** Measures the server `pid` while `client` runs; the server's numbers once the client succeeded. */
async function measured(
  pid: number,
  client: () => Promise<TimedResult>,
  what: string,
): Promise<[TimedResult, ServerUsage]> {
  const meter = await ServerMeter.start(pid);
  try {
    const result = expectSuccess(await client(), what);
    return [result, await meter.finish()];
  } finally {
    await meter.stop();
  }
}

/** A server started for one measurement. */
interface StartedServer {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

/**
 * A route from the client to a server port: direct, or through a fresh delay proxy (the long-link case).
 * `close` ends the proxy.
 */
type Route = (port: number) => Promise<{ port: number; close: () => Promise<void> }>;

const direct: Route = (port) => Promise.resolve({ port, close: () => Promise.resolve() });

/** A fresh delay proxy in front of `port`: the long link. */
const longLink: Route = async (port) => {
  const proxy = await DelayProxy.start({
    target: { host: '127.0.0.1', port },
    oneWayDelayMs: options.oneWayDelayMs,
    windowBytes: options.windowBytes,
  });
  return { port: proxy.port, close: () => proxy.close() };
};

/**
 * Runs a client against a fresh server (a dedicated sshd or ferry serve), reached through `route`, and
 * measures both sides. The client gets the port to dial.
 */
async function withServer(
  start: () => Promise<StartedServer>,
  route: Route,
  client: (port: number) => Promise<TimedResult>,
  what: string,
): Promise<Sample> {
  const server = await start();
  const via = await route(server.port).catch(async (err: unknown) => {
    await server.stop();
    throw err;
  });
  try {
    const [result, usage] = await measured(server.pid, () => client(via.port), what);
    return {
      wallMs: result.wallMs,
      clientCpuSeconds: result.cpuSeconds,
      serverCpuSeconds: usage.cpuSeconds,
      clientPeakRssBytes: result.peakRssBytes,
      serverPeakRssBytes: usage.peakRssBytes,
    };
  } finally {
    await via.close();
    await server.stop();
  }
}

function startSshd(b: Bench): () => Promise<SshdProcess> {
  return () => b.sshd!.start();
}

function startFerry(b: Bench): () => Promise<StartedServer> {
  return async () => {
    const server = await b.ferry.startServer(b.ferryRoot, b.ferryListen);
    return { pid: server.pid, port: Number(b.ferryListen.split(':')[1]), stop: () => server.stop() };
  };
}

/**
 * A one-shot listener and a client, both under GNU time (socat, nc): the wall time runs from the client's
 * start until both have exited, i.e. until the last byte is in the destination file.
 */
async function rawPair(
  server: (port: number) => [string, string[], { stdinPath?: string; stdoutPath?: string }],
  client: (port: number) => [string, string[], { stdinPath?: string; stdoutPath?: string }],
  route: Route,
): Promise<Sample> {
  const port = await freePort();
  const [serverCmd, serverArgs, serverIo] = server(port);
  const listener = startTimed(serverCmd, serverArgs, serverIo);
  await waitForListen(port);
  const via = await route(port);
  try {
    const [clientCmd, clientArgs, clientIo] = client(via.port);
    const c = expectSuccess(await runTimed(clientCmd, clientArgs, clientIo), `${clientCmd} (client)`);
    const s = expectSuccess(await listener.result, `${serverCmd} (server)`);
    const endedAt = Math.max(c.startedAt + c.wallMs, s.startedAt + s.wallMs);
    return {
      wallMs: endedAt - c.startedAt,
      clientCpuSeconds: c.cpuSeconds,
      serverCpuSeconds: s.cpuSeconds,
      clientPeakRssBytes: c.peakRssBytes,
      serverPeakRssBytes: s.peakRssBytes,
    };
  } finally {
    await via.close();
  }
}

const socatArgs = (from: string, to: string): string[] => ['-u', '-b', String(SOCAT_BUFFER_BYTES), from, to];

async function expectFile(path: string, source: string, deep: boolean): Promise<void> {
  const [got, want] = await Promise.all([stat(path), stat(source)]);
  if (got.size !== want.size) throw new Error(`${path}: ${got.size} bytes, expected ${want.size}`);
  if (deep && (await sha256File(path)) !== (await sha256File(source)))
    throw new Error(`${path}: content differs`);
}

async function expectTree(dir: string, source: string, deep: boolean): Promise<void> {
  const names = (await readdir(source)).sort();
  const got = (await readdir(dir)).sort();
  if (got.length !== names.length) throw new Error(`${dir}: ${got.length} files, expected ${names.length}`);
  for (const name of names) await expectFile(join(dir, name), join(source, name), deep);
}

/** The tools of the single large file cases, in either direction, optionally through a long-link proxy. */
function largeFileTools(
  direction: 'upload' | 'download',
  fileOf: (b: Bench) => string,
  route: Route = direct,
): ToolRun[] {
  const up = direction === 'upload';
  const isLink = route !== direct;
  const name = (b: Bench): string => fileOf(b).split('/').pop()!;
  const ssh = (b: Bench, port: number): string[] => [...b.sshd!.sshOptions(), '-p', String(port)];
  const scp = (b: Bench, port: number): string[] => [...b.sshd!.sshOptions(), '-P', String(port)];
  const remote = (path: string): string => `root@127.0.0.1:${path}`;
  const tools: ToolRun[] = [
    {
      tool: 'raw-socat',
      note: `socat -b ${SOCAT_BUFFER_BYTES}, file to TCP to file, no encryption: the ceiling`,
      run: (b, dest) => {
        const target = join(dest, name(b));
        const listen = (port: number): string => `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`;
        const dial = (port: number): string => `TCP:127.0.0.1:${port}`;
        return rawPair(
          (port) => [
            'socat',
            up ? socatArgs(listen(port), `CREATE:${target}`) : socatArgs(`OPEN:${fileOf(b)}`, listen(port)),
            {},
          ],
          (port) => [
            'socat',
            up ? socatArgs(`OPEN:${fileOf(b)}`, dial(port)) : socatArgs(dial(port), `CREATE:${target}`),
            {},
          ],
          route,
        );
      },
      verify: (b, dest, deep) => expectFile(join(dest, name(b)), fileOf(b), deep),
    },
  ];
  if (!isLink) {
    tools.push({
      tool: 'raw-nc',
      note: 'OpenBSD netcat, file to TCP to file, no encryption',
      run: (b, dest) => {
        const target = join(dest, name(b));
        return rawPair(
          (port) => [
            'nc',
            ['-l', ...(up ? [] : ['-N']), '127.0.0.1', String(port)],
            up ? { stdoutPath: target } : { stdinPath: fileOf(b) },
          ],
          (port) => [
            'nc',
            [...(up ? ['-N'] : []), '127.0.0.1', String(port)],
            up ? { stdinPath: fileOf(b) } : { stdoutPath: target },
          ],
          route,
        );
      },
      verify: (b, dest, deep) => expectFile(join(dest, name(b)), fileOf(b), deep),
    });
    tools.push({
      tool: 'ssh-cat',
      note: `ssh -c ${SSH_CIPHER} host 'cat > f' (or 'cat f' for a download): the best SSH-based path`,
      run: (b, dest) => {
        const target = join(dest, name(b));
        return withServer(
          startSshd(b),
          route,
          (port) => {
            return up
              ? runTimed('ssh', [...ssh(b, port), 'root@127.0.0.1', `cat > ${target}`], {
                  stdinPath: fileOf(b),
                })
              : runTimed('ssh', [...ssh(b, port), 'root@127.0.0.1', `cat ${fileOf(b)}`], {
                  stdoutPath: target,
                });
          },
          'ssh cat',
        );
      },
      verify: (b, dest, deep) => expectFile(join(dest, name(b)), fileOf(b), deep),
    });
  }
  tools.push(
    {
      tool: 'scp',
      note: `scp -c ${SSH_CIPHER} (OpenSSH ${opensshVersion()}: SFTP protocol, sftp-server on the server side)`,
      run: (b, dest) =>
        withServer(
          startSshd(b),
          route,
          (port) =>
            up
              ? runTimed('scp', [...scp(b, port), fileOf(b), remote(join(dest, name(b)))])
              : runTimed('scp', [...scp(b, port), remote(fileOf(b)), join(dest, name(b))]),
          'scp',
        ),
      verify: (b, dest, deep) => expectFile(join(dest, name(b)), fileOf(b), deep),
    },
    {
      tool: 'rsync',
      note: `rsync over ssh -c ${SSH_CIPHER}, no options (the destination is new, so the whole file is sent)`,
      run: (b, dest) =>
        withServer(
          startSshd(b),
          route,
          (port) => {
            const rsh = b.sshd!.rshCommand(port);
            return up
              ? runTimed('rsync', ['-e', rsh, fileOf(b), remote(join(dest, name(b)))])
              : runTimed('rsync', ['-e', rsh, remote(fileOf(b)), join(dest, name(b))]);
          },
          'rsync',
        ),
      verify: (b, dest, deep) => expectFile(join(dest, name(b)), fileOf(b), deep),
    },
    {
      tool: 'ferry',
      note: `bin/ferry ${up ? 'send' : 'get'} ${options.ferryArgs.join(' ')} against a fresh ferry serve`.replace(
        / +/g,
        ' ',
      ),
      run: (b, dest) =>
        withServer(
          startFerry(b),
          route,
          async (port) => {
            const address = `127.0.0.1:${port}`;
            if (address !== b.ferryListen) await b.ferry.trust(address);
            const remoteDir = `r${dest.split('/').pop()}`;
            // A download reads the file the server holds under dl/ (a hard link to the source).
            return up
              ? ferryClient(b, [
                  'send',
                  '-q',
                  '--mkdir',
                  ...options.ferryArgs,
                  fileOf(b),
                  `${address}/${remoteDir}/`,
                ])
              : ferryClient(b, [
                  'get',
                  '-q',
                  '--mkdir',
                  ...options.ferryArgs,
                  `${address}/dl/${name(b)}`,
                  `${dest}/`,
                ]);
          },
          'ferry',
        ),
      verify: (b, dest, deep) =>
        up
          ? expectFile(join(b.ferryRoot, `r${dest.split('/').pop()}`, name(b)), fileOf(b), deep)
          : expectFile(join(dest, name(b)), fileOf(b), deep),
    },
  );
  return tools;
}

function smallFileTools(): ToolRun[] {
  const remote = (path: string): string => `root@127.0.0.1:${path}`;
  return [
    {
      tool: 'scp',
      note: `scp -r -c ${SSH_CIPHER}`,
      run: (b, dest) =>
        withServer(
          startSshd(b),
          direct,
          (port) =>
            runTimed('scp', [
              '-r',
              ...b.sshd!.sshOptions(),
              '-P',
              String(port),
              b.smallDir,
              remote(join(dest, 'small')),
            ]),
          'scp -r',
        ),
      verify: (b, dest, deep) => expectTree(join(dest, 'small'), b.smallDir, deep),
    },
    {
      tool: 'rsync',
      note: `rsync -r over ssh -c ${SSH_CIPHER}`,
      run: (b, dest) =>
        withServer(
          startSshd(b),
          direct,
          (port) =>
            runTimed('rsync', [
              '-r',
              '-e',
              b.sshd!.rshCommand(port),
              `${b.smallDir}/`,
              remote(`${join(dest, 'small')}/`),
            ]),
          'rsync -r',
        ),
      verify: (b, dest, deep) => expectTree(join(dest, 'small'), b.smallDir, deep),
    },
    {
      tool: 'ferry',
      note: `bin/ferry send -r ${options.ferryArgs.join(' ')}`.trim(),
      run: (b, dest) =>
        withServer(
          startFerry(b),
          direct,
          () =>
            ferryClient(b, [
              'send',
              '-r',
              '-q',
              ...options.ferryArgs,
              b.smallDir,
              `${b.ferryListen}/r${dest.split('/').pop()}/`,
              '--mkdir',
            ]),
          'ferry send -r',
        ),
      verify: (b, dest, deep) =>
        expectTree(join(b.ferryRoot, `r${dest.split('/').pop()}`, 'small'), b.smallDir, deep),
    },
  ];
}

/** The `small-down` case's tools (bench/small-down-case.ts) as ToolRuns of this bench. */
function smallDownToolRuns(b: Bench): ToolRun[] {
  return smallDownTools<Sample>({
    smallDir: b.smallDir,
    ferryListen: b.ferryListen,
    ferryArgs: options.ferryArgs,
    sshCipher: SSH_CIPHER,
    withSshd: (client, what) => withServer(startSshd(b), direct, client, what),
    withFerry: (client, what) => withServer(startFerry(b), direct, client, what),
    sshOptions: () => b.sshd!.sshOptions(),
    rshCommand: (port) => b.sshd!.rshCommand(port),
    runTimed: (command, args) => runTimed(command, [...args]),
    ferryClient: (args) => ferryClient(b, args),
    expectTree,
  }).map((t) => ({ ...t, run: (_b, dest) => t.run(dest), verify: (_b, dest, deep) => t.verify(dest, deep) }));
}

/** Hard links (or copies) of every file of `source` under `target`, for the server to serve. */
async function linkTree(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const name of await readdir(source))
    await link(join(source, name), join(target, name)).catch(() =>
      copyFile(join(source, name), join(target, name)),
    );
}

// ---------------------------------------------------------------------------------------------------------
// Resume: ferry cut at 50 % and resumed, against rsync --append-verify of a half-present file, and scp
// (which has no resume: a rerun sends the whole file again).

interface ResumeSample {
  tool: string;
  fullWallMs: number;
  fullWireBytes: number;
  resumedWallMs: number;
  resumedWireBytes: number;
  missingBytes: number;
  clientCpuSeconds: number;
  serverCpuSeconds: number;
  clientPeakRssBytes: number;
  serverPeakRssBytes: number;
}

function ferryChunkBytes(): number {
  const at = options.ferryArgs.indexOf('--chunk-size');
  return parseSize(at >= 0 ? options.ferryArgs[at + 1]! : '4M');
}

async function resumeFerry(b: Bench, id: string): Promise<ResumeSample> {
  const server = await b.ferry.startServer(b.ferryRoot, b.ferryListen);
  const [host, port] = b.ferryListen.split(':');
  const proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
  try {
    await b.ferry.trust(proxy.addressText);
    const send = (remoteDir: string, extra: string[] = []): Promise<TimedResult> =>
      ferryClient(b, [
        'send',
        ...options.ferryArgs,
        '--retry-delay',
        '1',
        ...extra,
        b.largeFile,
        `${proxy.addressText}/${remoteDir}/`,
        '--mkdir',
      ]);

    let mark = proxy.connections.length;
    const full = expectSuccess(await send(`full${id}`), 'ferry send (full run)');
    const fullWireBytes = proxy.bytesSince(mark, 'clientToServer');

    // The send is cut (RST) once half the file crossed the proxy, over however many connections carry it;
    // with no retries it fails (exit 5).
    mark = proxy.connections.length;
    const pending = cutAfterTotal(proxy, mark, Math.floor(options.sizeBytes / 2));
    const cut = await send(`cut${id}`, ['--retries', '0']).finally(() => pending.cancel());
    if (cut.code === 0)
      throw new Error(`the cut run succeeded: the cut came too late (${cut.stderr.trim()})`);

    mark = proxy.connections.length;
    const [resumed, usage] = await measured(
      server.pid,
      () => send(`cut${id}`, ['--retries', '0']),
      'ferry send (resumed run)',
    );
    // What the server held, as the CLI's closing line or its --json event says it (bench/lib/resumed-bytes.ts).
    const heldBytes = resumedBytesOf(resumed.stderr);
    if (heldBytes === undefined)
      throw new Error(`the resumed run did not say how much was held: ${resumed.stderr.slice(-500)}`);
    await expectFile(join(b.ferryRoot, `cut${id}`, 'large.bin'), b.largeFile, options.verify !== 'none');
    return {
      tool: 'ferry',
      fullWallMs: full.wallMs,
      fullWireBytes,
      resumedWallMs: resumed.wallMs,
      resumedWireBytes: proxy.bytesSince(mark, 'clientToServer'),
      missingBytes: options.sizeBytes - heldBytes,
      clientCpuSeconds: resumed.cpuSeconds,
      serverCpuSeconds: usage.cpuSeconds,
      clientPeakRssBytes: resumed.peakRssBytes,
      serverPeakRssBytes: usage.peakRssBytes,
    };
  } finally {
    await proxy.close();
    await server.stop();
  }
}

/** Writes the first `bytes` bytes of `source` to `dest`: the half a cut transfer would have left behind. */
async function writePrefix(source: string, dest: string, bytes: number): Promise<void> {
  const from = await open(source, 'r');
  const to = await open(dest, 'w');
  try {
    const buffer = Buffer.allocUnsafe(4 * MIB);
    for (let at = 0; at < bytes;) {
      const { bytesRead } = await from.read(buffer, 0, Math.min(buffer.length, bytes - at), at);
      await to.write(buffer, 0, bytesRead, at);
      at += bytesRead;
    }
  } finally {
    await from.close();
    await to.close();
  }
}

/** rsync (full, then --append-verify onto a half-present file) or scp (full only) through a counting proxy. */
async function resumeSsh(b: Bench, tool: 'rsync' | 'scp', dest: string): Promise<ResumeSample> {
  const sshd = await b.sshd!.start();
  const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: sshd.port } });
  try {
    const target = join(dest, 'large.bin');
    const copy = (extra: string[]): Promise<TimedResult> =>
      tool === 'rsync'
        ? runTimed('rsync', [
            ...extra,
            '-e',
            b.sshd!.rshCommand(proxy.address.port),
            b.largeFile,
            `root@127.0.0.1:${target}`,
          ])
        : runTimed('scp', [
            ...b.sshd!.sshOptions(),
            '-P',
            String(proxy.address.port),
            b.largeFile,
            `root@127.0.0.1:${target}`,
          ]);
    let mark = proxy.connections.length;
    const full = expectSuccess(await copy([]), `${tool} (full run)`);
    const fullWireBytes = proxy.bytesSince(mark, 'clientToServer');
    await rm(target, { force: true });
    const half = Math.floor(options.sizeBytes / 2);
    if (tool === 'rsync') await writePrefix(b.largeFile, target, half);
    spawnSync('sync');
    mark = proxy.connections.length;
    const [resumed, usage] = await measured(
      sshd.pid,
      () => copy(tool === 'rsync' ? ['--append-verify'] : []),
      `${tool} (resumed run)`,
    );
    await expectFile(target, b.largeFile, options.verify !== 'none');
    return {
      tool: tool === 'rsync' ? 'rsync --append-verify' : 'scp (no resume)',
      fullWallMs: full.wallMs,
      fullWireBytes,
      resumedWallMs: resumed.wallMs,
      resumedWireBytes: proxy.bytesSince(mark, 'clientToServer'),
      missingBytes: tool === 'rsync' ? options.sizeBytes - half : options.sizeBytes,
      clientCpuSeconds: resumed.cpuSeconds,
      serverCpuSeconds: usage.cpuSeconds,
      clientPeakRssBytes: resumed.peakRssBytes,
      serverPeakRssBytes: usage.peakRssBytes,
    };
  } finally {
    await proxy.close();
    await sshd.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reporting

interface Row {
  case: string;
  tool: string;
  bytes: number;
  files: number;
  runs: number;
  wallMs: number;
  mbPerSecond: number;
  clientCpuSeconds: number;
  serverCpuSeconds: number;
  clientPeakRssBytes: number;
  serverPeakRssBytes: number;
  /** Throughput of ferry over each baseline of the same case and run (baseline wall / ferry wall). */
  vs?: Record<string, number>;
  /** The median over the runs of that ratio within each run. */
  vsPaired?: Record<string, number>;
  error?: string;
}

const rows: Row[] = [];
/** One row of the resume table: medians over the runs. */
interface ResumeRow {
  tool: string;
  fullWallMs: number;
  resumedWallMs: number;
  resumedVsFullTime: number;
  missingBytes: number;
  resumedWireBytes: number;
  overheadBytes: number;
  clientCpuSeconds: number;
  serverCpuSeconds: number;
  error?: string | undefined;
}

const resumeRows: ResumeRow[] = [];
const round = (n: number, digits = 3): number => Number(n.toFixed(digits));

function summarize(
  caseLabel: string,
  bytes: number,
  files: number,
  tool: ToolRun,
  samples: Sample[],
  error?: string,
): Row {
  const pick = (f: (s: Sample) => number): number => median(samples.map(f));
  const wallMs = pick((s) => s.wallMs);
  const row: Row = {
    case: caseLabel,
    tool: tool.tool,
    bytes,
    files,
    runs: samples.length,
    wallMs: Math.round(wallMs),
    mbPerSecond: round(bytes / 1e6 / (wallMs / 1000), 1),
    clientCpuSeconds: round(
      pick((s) => s.clientCpuSeconds),
      2,
    ),
    serverCpuSeconds: round(
      pick((s) => s.serverCpuSeconds),
      2,
    ),
    clientPeakRssBytes: Math.round(pick((s) => s.clientPeakRssBytes)),
    serverPeakRssBytes: Math.round(pick((s) => s.serverPeakRssBytes)),
    ...(error !== undefined ? { error } : {}),
  };
  return row;
}

/** Adds ferry's ratios to the baselines of the same case (computed from the medians of the same run). */
function addRatios(caseRows: Row[], wallsByTool: ReadonlyMap<string, readonly number[]>): void {
  const ferry = caseRows.find((r) => r.tool === 'ferry');
  if (!ferry || ferry.error !== undefined) return;
  ferry.vs = {};
  ferry.vsPaired = {};
  const ferryWalls = wallsByTool.get('ferry') ?? [];
  for (const base of caseRows) {
    if (base === ferry || base.error !== undefined) continue;
    ferry.vs[base.tool] = round(base.wallMs / ferry.wallMs, 2);
    // The same ratio within each run, then the median: steadier when the machine's load drifts.
    const baseWalls = wallsByTool.get(base.tool) ?? [];
    const paired = ferryWalls.map((wall, run) => baseWalls[run]! / wall);
    ferry.vsPaired[base.tool] = round(median(paired), 2);
  }
}

function emitRow(row: Row, note: string | undefined): void {
  const gib = row.bytes / GIB;
  emit({
    bench: BENCH,
    ...row,
    clientCpuSecondsPerGiB: round(row.clientCpuSeconds / gib, 2),
    serverCpuSecondsPerGiB: round(row.serverCpuSeconds / gib, 2),
    ...(note !== undefined ? { note } : {}),
  });
}

function printTable(): void {
  const mib = (b: number): string => (b / MIB).toFixed(0);
  const failures: string[] = [];
  const failed = (what: string, error: string): string => {
    failures.push(`[${failures.length + 1}] ${what}: ${error.split('\n')[0]!}`);
    return `failed [${failures.length}]`;
  };
  const lines: string[][] = [
    [
      'case',
      'tool',
      'MB/s',
      'wall s',
      'CPU s client',
      'CPU s server',
      'RSS MiB client',
      'RSS MiB server',
      'ferry vs scp',
      'vs rsync',
      'vs raw TCP',
    ],
  ];
  for (const r of rows) {
    const vs = (tool: string): string => (r.vs?.[tool] !== undefined ? `${r.vs[tool].toFixed(2)}x` : '');
    if (r.error !== undefined) {
      lines.push([r.case, r.tool, failed(`${r.case} ${r.tool}`, r.error)]);
      continue;
    }
    lines.push([
      r.case,
      r.tool,
      r.mbPerSecond.toFixed(0),
      (r.wallMs / 1000).toFixed(2),
      r.clientCpuSeconds.toFixed(2),
      r.serverCpuSeconds.toFixed(2),
      mib(r.clientPeakRssBytes),
      mib(r.serverPeakRssBytes),
      vs('scp'),
      vs('rsync'),
      vs('raw-socat'),
    ]);
  }
  if (rows.length > 0) process.stdout.write(`\n${markdownTable(lines, [2, 3, 4, 5, 6, 7, 8, 9, 10])}\n`);
  if (resumeRows.length > 0) {
    const resumeLines: string[][] = [
      [
        `resume ${formatSize(options.sizeBytes)} at 50 %`,
        'full s',
        'resumed s',
        'resumed/full time',
        'missing MiB',
        'resumed wire MiB',
        'wire - missing MiB',
        'CPU s client',
        'CPU s server',
      ],
    ];
    for (const r of resumeRows) {
      if (r.error !== undefined) {
        resumeLines.push([r.tool, failed(`resume ${r.tool}`, r.error)]);
        continue;
      }
      resumeLines.push([
        r.tool,
        (r.fullWallMs / 1000).toFixed(2),
        (r.resumedWallMs / 1000).toFixed(2),
        r.resumedVsFullTime.toFixed(2),
        (r.missingBytes / MIB).toFixed(1),
        (r.resumedWireBytes / MIB).toFixed(1),
        (r.overheadBytes / MIB).toFixed(2),
        r.clientCpuSeconds.toFixed(2),
        r.serverCpuSeconds.toFixed(2),
      ]);
    }
    process.stdout.write(`\n${markdownTable(resumeLines, [1, 2, 3, 4, 5, 6, 7, 8])}\n`);
  }
  if (failures.length > 0) process.stdout.write(`\n${failures.join('\n')}\n`);
}

function opensshVersion(): string {
  const version = spawnSync('ssh', ['-V'], { encoding: 'utf8' });
  return /OpenSSH_([^\s,]+)/.exec(version.stderr)?.[1] ?? 'unknown';
}

function machineFacts(): Record<string, unknown> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpuModel = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model;
  const cpuFlags = new Set(/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(' ') ?? []);
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', 'src'], { encoding: 'utf8' }).stdout.trim() !== '';
  return {
    bench: BENCH,
    case: 'machine',
    nproc: cpus().length,
    cpu: cpuModel,
    // What the ciphers and hashes of every tool here lean on.
    aesNi: cpuFlags.has('aes'),
    shaNi: cpuFlags.has('sha_ni'),
    node: process.version,
    kernel: release(),
    openssh: opensshVersion(),
    // Other work on the machine skews every tool alike only roughly: a busy machine shows here.
    loadAverage1m: round(loadavg()[0]!, 2),
    // A VM that hands freed memory to its host: every large case's timed runs start on settled memory.
    reportsFreePages: reportsFreePages(),
    // Other files' page cache at the start (free GiB, page cache GiB): a full cache slows every writer.
    memoryAtStart: memoryAtStart(),
    ferryCommit: `${rev}${dirty ? '+uncommitted src' : ''}`,
    options: { ...options, cases: [...options.cases] },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Main

/** Cases of this many bytes or more start each timed run on settled memory (`bench/lib/settle-memory.ts`). */
const SETTLE_FROM_BYTES = 64 * 2 ** 20;

async function runCase(
  b: Bench,
  label: string,
  bytes: number,
  files: number,
  tools: ToolRun[],
): Promise<void> {
  const samples = new Map<ToolRun, Sample[]>(tools.map((t) => [t, []]));
  const errors = new Map<ToolRun, string>();
  for (let run = 0; run < options.runs; run++) {
    // Tools take turns within each run, starting one further each run, so drift on the machine and what one
    // tool leaves behind reach all of them alike.
    for (const tool of [...tools.slice(run % tools.length), ...tools.slice(0, run % tools.length)]) {
      if (errors.has(tool)) continue;
      const dest = join(b.out, unique());
      await mkdir(dest, { recursive: true });
      log(`${label}: ${tool.tool} (run ${run + 1}/${options.runs})`);
      try {
        if (bytes >= SETTLE_FROM_BYTES) settleMemory();
        const sample = await tool.run(b, dest);
        const deep = options.verify === 'all' || (options.verify === 'first' && run === 0);
        if (options.verify !== 'none') await tool.verify(b, dest, deep);
        samples.get(tool)!.push(sample);
      } catch (err) {
        errors.set(tool, (err as Error).message);
        log(`${label}: ${tool.tool} failed: ${(err as Error).message}`);
      } finally {
        killTracked();
        // Whatever the tool wrote must not be flushed to disk during the next tool's turn.
        await rm(dest, { recursive: true, force: true });
        await removeFerryOutputs(b);
        spawnSync('sync');
      }
    }
  }
  const caseRows = tools.map((t) => summarize(label, bytes, files, t, samples.get(t)!, errors.get(t)));
  addRatios(caseRows, new Map(tools.map((t) => [t.tool, samples.get(t)!.map((s) => s.wallMs)])));
  caseRows.forEach((row, i) => emitRow(row, tools[i]!.note));
  rows.push(...caseRows);
}

/**
 * Removes what ferry serve received (every top-level entry of its root but the download source dl/), and the
 * client's chunk-hash cache, so every measurement is a first transfer.
 */
async function removeFerryOutputs(b: Bench): Promise<void> {
  await rm(join(b.ferry.clientHome, 'cache'), { recursive: true, force: true });
  for (const entry of await readdir(b.ferryRoot).catch(() => [] as string[]))
    if (entry !== 'dl') await rm(join(b.ferryRoot, entry), { recursive: true, force: true });
}

/**
 * The handshake's cost per side, version 1's XX against version 2's XXhfs (bench/handshake-cost.ts): one JSON
 * line per protocol, and the loopback wall time of the real channel handshake. In-process: needs no tools.
 */
async function runHandshake(): Promise<void> {
  const runs = flags.quick ? 50 : 200;
  const loopbackMs = await measureLoopbackHandshakeMs(flags.quick ? 20 : 50);
  for (const cost of measureHandshakeCost(runs)) {
    emit({ bench: BENCH, case: 'handshake', ...cost });
    log(
      `handshake ${cost.protocol}: client ${cost.clientCpuMs} ms, server ${cost.serverCpuMs} ms ` +
        `(message 1 -> 2: ${cost.serverMessage1CpuMs} ms), ${cost.clientBytes} + ${cost.serverBytes} bytes`,
    );
  }
  emit({ bench: BENCH, case: 'handshake-loopback', protocol: NOISE_PROTOCOL_NAME, wallMs: loopbackMs });
}

async function main(): Promise<number> {
  if (options.cases.has('handshake')) {
    await runHandshake();
    if (options.cases.size === 1) return 0;
  }
  const tools = ensureTools(log);
  for (const needed of ['time', 'socat'] as const)
    if (!tools.has(needed)) throw new Error(`${needed} is required`);
  const facts = machineFacts();
  emit(facts);
  const dir = await makeTempDir('ferry-bench-');
  killTrackedOnExit(() => {
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
  });
  log(`working in ${dir}`);
  setTimeFileDir(dir);
  // One copy of the CLI as built right now serves the whole run: a rebuild in the work tree cannot reach it.
  const ferryBin = await snapshotFerry(join(dir, 'ferry-cli'));
  const needLarge = ['upload', 'download', 'resume', 'cluster'].some((c) => options.cases.has(c as CaseName));
  const largeFile = join(dir, 'src', 'large.bin');
  const linkFile = join(dir, 'src', 'link.bin');
  const smallDir = join(dir, 'src', 'small');
  await mkdir(smallDir, { recursive: true });
  if (needLarge) {
    log(`writing ${formatSize(options.sizeBytes)} of random data...`);
    await writeRandomFile(largeFile, options.sizeBytes);
  }
  if (options.cases.has('link')) await writeRandomFile(linkFile, options.linkBytes);
  if (options.cases.has('small') || options.cases.has('small-down')) {
    log(`writing ${options.fileCount} files of ${formatSize(options.smallFileBytes)}...`);
    for (let i = 0; i < options.fileCount; i++)
      await writeRandomFile(join(smallDir, `f${String(i).padStart(5, '0')}.bin`), options.smallFileBytes);
  }
  const sshAvailable = tools.has('sshd') && tools.has('scp') && tools.has('rsync');
  const ferryRoot = join(dir, 'ferry-root');
  await mkdir(join(ferryRoot, 'dl'), { recursive: true });
  if (needLarge)
    await link(largeFile, join(ferryRoot, 'dl', 'large.bin')).catch(() =>
      copyFile(largeFile, join(ferryRoot, 'dl', 'large.bin')),
    );
  if (options.cases.has('small-down')) await linkTree(smallDir, join(ferryRoot, 'dl', 'small'));
  const ferry = await FerryPeers.create(ferryBin, join(dir, 'ferry'));
  const ferryListen = `127.0.0.1:${await freePort()}`;
  await ferry.trust(ferryListen);
  const b: Bench = {
    dir,
    out: join(dir, 'out'),
    largeFile,
    linkFile,
    smallDir,
    sshd: sshAvailable ? LoopbackSshd.create(join(dir, 'ssh')) : undefined,
    ferry,
    ferryRoot,
    ferryListen,
    tools,
  };
  const usable = (list: ToolRun[]): ToolRun[] =>
    list.filter((t) => {
      if (t.tool === 'raw-nc') return tools.has('nc');
      if (['scp', 'rsync', 'ssh-cat'].includes(t.tool)) return sshAvailable;
      return true;
    });

  const size = formatSize(options.sizeBytes);
  if (options.cases.has('upload'))
    await runCase(
      b,
      `upload ${size}`,
      options.sizeBytes,
      1,
      usable(largeFileTools('upload', (x) => x.largeFile)),
    );
  if (options.cases.has('download'))
    await runCase(
      b,
      `download ${size}`,
      options.sizeBytes,
      1,
      usable(largeFileTools('download', (x) => x.largeFile)),
    );
  if (options.cases.has('small'))
    await runCase(
      b,
      `${options.fileCount} x ${formatSize(options.smallFileBytes)}`,
      options.fileCount * options.smallFileBytes,
      options.fileCount,
      usable(smallFileTools()),
    );
  if (options.cases.has('small-down'))
    await runCase(
      b,
      `get ${options.fileCount} x ${formatSize(options.smallFileBytes)}`,
      options.fileCount * options.smallFileBytes,
      options.fileCount,
      usable(smallDownToolRuns(b)),
    );
  if (options.cases.has('link')) {
    const rtt = options.oneWayDelayMs * 2;
    await runCase(
      b,
      `link ${rtt} ms RTT ${formatSize(options.linkBytes)}`,
      options.linkBytes,
      1,
      usable(linkTools(rtt)),
    );
  }
  if (options.cases.has('resume')) await runResume(b);
  if (options.cases.has('pipeline')) await runPipeline(join(dir, 'pipeline'));
  if (options.cases.has('sync'))
    await runSyncTreeCase({
      dir,
      ferry,
      ferryListen,
      sshd: b.sshd,
      runs: options.runs,
      fileCount: options.fileCount,
      log,
      emit,
    });
  const deltaOk =
    !options.cases.has('delta') || (await runDeltaCases({ ...options, dir, ferry, sshd: b.sshd, emit, log }));
  if (options.cases.has('cluster'))
    await runClusterCase({ dir, bin: ferryBin, largeFile, sizeBytes: options.sizeBytes, log, emit });
  emit({ bench: BENCH, case: 'end', loadAverage1m: round(loadavg()[0]!, 2) });
  printTable();
  return rows.some((r) => r.error !== undefined) || resumeRows.some((r) => r.error !== undefined) || !deltaOk
    ? 1
    : 0;
}

/**
 * The pipeline alone (bench/lib/pipeline-case.ts): the in-process floor (seal + hash per GiB), then each
 * side's work in this one process at 1 and 2 threads, medians over the runs, CPU per GiB read against the
 * floor and wall time against 1 thread.
 */
async function runPipeline(dir: string): Promise<void> {
  const bytes = options.sizeBytes;
  const floors: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    log(`pipeline: floor (run ${run + 1}/${options.runs})`);
    const f = await measureFloor(bytes);
    floors.push(f.seal.cpuSeconds + f.hash.cpuSeconds);
  }
  const floor = perGiB(median(floors), bytes);
  emit({
    bench: BENCH,
    case: 'pipeline floor',
    bytes,
    runs: options.runs,
    floorCpuSecondsPerGiB: floor,
    note: 'AES-256-GCM in 65519-byte records + SHA-256, one core, in process',
  });
  await mkdir(dir, { recursive: true });
  const source = join(dir, 'source.bin');
  await writeSourceFile(source, bytes);
  try {
    for (const side of ['send', 'receive'] as const) {
      let oneThreadWall: number | undefined;
      for (const threads of [1, 2]) {
        const cpu: number[] = [];
        const wall: number[] = [];
        const perThread: ThreadCpu[] = [];
        const busyShares: Array<PipelineMeasure['busy']> = [];
        for (let run = 0; run < options.runs; run++) {
          log(`pipeline: ${side}, ${threads} thread(s) (run ${run + 1}/${options.runs})`);
          const m =
            side === 'send'
              ? await measureSend(source, threads)
              : await measureReceive(join(dir, 'receive'), bytes, threads);
          cpu.push(m.cpuSeconds);
          wall.push(m.wallMs);
          perThread.push(m.threads);
          busyShares.push(m.busy);
        }
        // Each kind of thread's CPU per GiB in the run of median CPU: the main thread's is the critical path.
        const medianIndex = cpu.indexOf([...cpu].sort((a, b) => a - b)[Math.floor(cpu.length / 2)]!);
        const medianRun = perThread[medianIndex]!;
        // Share of the wall time each event loop was busy, same run: a worker's rest is waiting for a block.
        const { main: mainBusy, workers: workersBusy } = busyShares[medianIndex]!;
        const busyOfRun = { main: round(mainBusy, 2), workers: workersBusy.map((b) => round(b, 2)) };
        const wallMs = Math.round(median(wall));
        oneThreadWall ??= wallMs;
        const cpuPerGiB = perGiB(median(cpu), bytes);
        emit({
          bench: BENCH,
          case: `pipeline ${side}`,
          threads,
          bytes,
          runs: options.runs,
          wallMs,
          mbPerSecond: round(bytes / 1e6 / (wallMs / 1000), 1),
          cpuSecondsPerGiB: cpuPerGiB,
          vsFloor: round(cpuPerGiB / floor, 2),
          speedupVs1Thread: round(oneThreadWall / wallMs, 2),
          threadCpuSecondsPerGiB: {
            main: perGiB(medianRun.main, bytes),
            workers: medianRun.workers.filter((s) => s > 0).map((s) => perGiB(s, bytes)),
            libuv: perGiB(medianRun.libuv, bytes),
            other: perGiB(medianRun.other, bytes),
          },
          busy: busyOfRun,
        });
      }
    }
  } finally {
    await cleanScratch(dir);
  }
}

/** The long-link tools: the upload tools, each measurement through a fresh delay proxy in front of its server. */
function linkTools(rtt: number): ToolRun[] {
  return largeFileTools('upload', (x) => x.linkFile, longLink).map((tool) => ({
    ...tool,
    note: `${tool.note}; through a delay proxy: ${rtt} ms round trip, window ${formatSize(options.windowBytes)} per connection and direction`,
  }));
}

async function runResume(b: Bench): Promise<void> {
  const samples = new Map<string, ResumeSample[]>();
  const errors = new Map<string, string>();
  const kinds: Array<'ferry' | 'rsync' | 'scp'> = ['ferry', ...(b.sshd ? (['rsync', 'scp'] as const) : [])];
  for (let run = 0; run < options.runs; run++) {
    for (const kind of kinds) {
      if (errors.has(kind)) continue;
      log(`resume: ${kind} (run ${run + 1}/${options.runs})`);
      const dest = join(b.out, unique());
      await mkdir(dest, { recursive: true });
      try {
        settleMemory();
        const sample = kind === 'ferry' ? await resumeFerry(b, unique()) : await resumeSsh(b, kind, dest);
        samples.set(kind, [...(samples.get(kind) ?? []), sample]);
      } catch (err) {
        errors.set(kind, (err as Error).message);
        log(`resume: ${kind} failed: ${(err as Error).message}`);
      } finally {
        killTracked();
        await rm(dest, { recursive: true, force: true });
        await removeFerryOutputs(b);
        spawnSync('sync');
      }
    }
  }
  for (const kind of kinds) {
    const list = samples.get(kind) ?? [];
    const pick = (f: (s: ResumeSample) => number): number => median(list.map(f));
    const fullWallMs = pick((s) => s.fullWallMs);
    const resumedWallMs = pick((s) => s.resumedWallMs);
    const missingBytes = pick((s) => s.missingBytes);
    const resumedWireBytes = pick((s) => s.resumedWireBytes);
    const row: ResumeRow = {
      tool: list[0]?.tool ?? kind,
      fullWallMs: Math.round(fullWallMs),
      resumedWallMs: Math.round(resumedWallMs),
      resumedVsFullTime: round(resumedWallMs / fullWallMs),
      missingBytes: Math.round(missingBytes),
      resumedWireBytes: Math.round(resumedWireBytes),
      overheadBytes: Math.round(pick((s) => s.resumedWireBytes - s.missingBytes)),
      clientCpuSeconds: round(
        pick((s) => s.clientCpuSeconds),
        2,
      ),
      serverCpuSeconds: round(
        pick((s) => s.serverCpuSeconds),
        2,
      ),
      error: errors.get(kind),
    };
    const notes = {
      ferry: {
        chunkBytes: ferryChunkBytes(),
        wireWithinMissingPlusOneChunk: row.overheadBytes <= ferryChunkBytes(),
        note: 'ferry send cut by the fault proxy (RST) once 50 % of the file crossed it, then rerun; wire bytes are client->server at the proxy, protocol overhead included',
      },
      rsync: {
        note: 'rsync --append-verify onto a destination holding the first 50 % (what rsync --partial would have kept); it re-reads both whole files to verify',
      },
      scp: { note: 'scp has no resume: a rerun sends the whole file again' },
    };
    const record = {
      bench: BENCH,
      case: `resume ${formatSize(options.sizeBytes)} cut at 50 %`,
      ...row,
      runs: list.length,
      bytes: options.sizeBytes,
      fullWireBytes: Math.round(pick((s) => s.fullWireBytes)),
      clientPeakRssBytes: Math.round(pick((s) => s.clientPeakRssBytes)),
      serverPeakRssBytes: Math.round(pick((s) => s.serverPeakRssBytes)),
      ...notes[kind],
    };
    emit(record);
    resumeRows.push(row);
  }
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (err) {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
} finally {
  killTracked();
}
process.exitCode = exitCode;
