// Question: how fast does one large file go through real `ferry serve` / `ferry send` processes on
// loopback, and how much memory does each side need for it (memory must not grow with the file size)?
//
//   npm run build && node --import tsx bench/large-file-rss.ts [--size 1G] [--chunk-size 4M] [--keep]
//
// Writes a random file under os.tmpdir(), transfers it, checks SHA-256 equality, prints one machine-readable
// line `{"bench":"large-file-rss",...}` and a small table, then removes everything it made.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FERRY_BIN, ferryEnv, runFerry, startServe, type ServeProcess } from '../test/helpers/cli.js';
import { sha256File, writeRandomFile } from '../test/helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';
import { parseSize } from './lib/parse-size.js';
import { procStatusBytes } from './lib/proc-stats.js';

const POLL_MS = 50;

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1]! : fallback;
}

async function check(result: Promise<{ code: number | null; stderr: string }>, what: string): Promise<void> {
  const { code, stderr } = await result;
  if (code !== 0) throw new Error(`${what} exited ${code}: ${stderr}`);
}

const MIB = 1024 * 1024;

async function main(): Promise<void> {
  const sizeText = flag('--size', '1G');
  const size = parseSize(sizeText);
  const chunkSize = flag('--chunk-size', '4M');
  const dir = await makeTempDir('ferry-bench-');
  let server: ServeProcess | undefined;
  try {
    const clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    await check(runFerry(['--home', clientHome, 'keygen']), 'keygen (client)');
    await check(runFerry(['--home', serverHome, 'keygen']), 'keygen (server)');
    const clientId = (await runFerry(['--home', clientHome, 'id'])).stdout.trim();
    const serverId = (await runFerry(['--home', serverHome, 'id'])).stdout.trim();
    await check(runFerry(['--home', serverHome, 'allow', clientId]), 'allow');

    const source = join(dir, 'large.bin');
    process.stderr.write(`writing ${sizeText} of random data to ${source}...\n`);
    const sourceSha = await writeRandomFile(source, size);

    const root = join(dir, 'root');
    server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
    const serverPid = server.process.pid!;
    const serverIdleRss = (await procStatusBytes(serverPid, 'VmRSS')) ?? 0;

    process.stderr.write(`sending through ${server.address}...\n`);
    const startedAt = performance.now();
    const sender = spawn(
      process.execPath,
      [
        FERRY_BIN,
        '--home',
        clientHome,
        'send',
        source,
        `${server.address}/bench/`,
        '--mkdir',
        '--expect',
        serverId,
        '--chunk-size',
        chunkSize,
        '--quiet',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: ferryEnv() },
    );
    let senderStderr = '';
    sender.stderr.setEncoding('utf8').on('data', (s: string) => (senderStderr += s));
    let clientPeak = 0;
    const poll = setInterval(() => {
      void procStatusBytes(sender.pid!, 'VmHWM').then((hwm) => {
        if (hwm !== undefined) clientPeak = Math.max(clientPeak, hwm);
      });
    }, POLL_MS);
    const [code] = (await once(sender, 'exit')) as [number | null];
    const wallMs = performance.now() - startedAt;
    clearInterval(poll);
    if (code !== 0) throw new Error(`send exited ${code}: ${senderStderr}`);
    // The server is still alive: its high-water mark covers the whole transfer.
    const serverPeak = (await procStatusBytes(serverPid, 'VmHWM')) ?? 0;

    const landed = join(root, 'bench', 'large.bin');
    const landedSize = (await stat(landed)).size;
    const landedSha = await sha256File(landed);
    const verified = landedSize === size && landedSha === sourceSha;

    const line = {
      bench: 'large-file-rss',
      node: process.version,
      bytes: size,
      chunkBytes: parseSize(chunkSize),
      wallMs: Math.round(wallMs),
      mbPerSecond: Number((size / 1e6 / (wallMs / 1000)).toFixed(1)),
      mibPerSecond: Number((size / MIB / (wallMs / 1000)).toFixed(1)),
      clientPeakRssBytes: clientPeak,
      serverPeakRssBytes: serverPeak,
      serverIdleRssBytes: serverIdleRss,
      sha256Equal: verified,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    const mib = (b: number): string => `${(b / MIB).toFixed(1)} MiB`;
    const rows: Array<[string, string]> = [
      ['file', `${mib(size)} (chunk ${chunkSize})`],
      ['wall time (send process)', `${(wallMs / 1000).toFixed(2)} s`],
      ['throughput', `${line.mbPerSecond} MB/s (${line.mibPerSecond} MiB/s)`],
      ['client peak RSS (VmHWM)', mib(clientPeak)],
      ['server peak RSS (VmHWM)', `${mib(serverPeak)} (idle ${mib(serverIdleRss)})`],
      ['SHA-256 equal', String(verified)],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(26)} ${v}\n`);
    if (!verified) process.exitCode = 1;
  } finally {
    await server?.stop();
    if (!process.argv.includes('--keep')) await removeTempDir(dir);
  }
}

await main();
