// Question: after a connection cut at ~50 %, how much does the resumed `ferry send` put on the wire, and how
// long does it take compared with a full run? Real processes (`ferry serve`, `ferry send`) on loopback, with
// the fault proxy in between counting client->server bytes. Prints one JSON line.
//
//   npm run build && node --import tsx bench/resume-cut.ts [--size 1G] [--chunk-size 4M]
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runFerry, startServe, type CliResult, type ServeProcess } from '../test/helpers/cli.js';
import { FaultProxy } from '../test/helpers/fault-proxy.js';
import { makeTempDir, removeTempDir } from '../test/helpers/temp-dir.js';
import { sha256File, writeRandomFile } from '../test/helpers/random-file.js';
import { cutAfterTotal } from './lib/cut-after-total.js';
import { parseSize } from './lib/parse-size.js';
import { resumedBytesOf } from './lib/resumed-bytes.js';

function check(result: CliResult, what: string, code = 0): CliResult {
  if (result.code !== code)
    throw new Error(`${what}: exit ${result.code}, expected ${code}\n${result.stderr}`);
  return result;
}

const { values } = parseArgs({
  options: { size: { type: 'string', default: '1G' }, 'chunk-size': { type: 'string', default: '4M' } },
});
const size = parseSize(values.size);
const chunkSize = values['chunk-size'];

const dir = await makeTempDir('ferry-bench-resume-');
let server: ServeProcess | undefined;
let proxy: FaultProxy | undefined;
try {
  const source = join(dir, 'payload.bin');
  const sourceSha = await writeRandomFile(source, size);
  const clientHome = join(dir, 'client-home');
  const serverHome = join(dir, 'server-home');
  const clientId = check(await runFerry(['--home', clientHome, 'keygen']), 'keygen').stdout.trim();
  const serverId = check(await runFerry(['--home', serverHome, 'keygen']), 'keygen').stdout.trim();
  check(await runFerry(['--home', serverHome, 'allow', clientId]), 'allow');
  const root = join(dir, 'root');
  server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
  const [host, port] = server.address.split(':');
  proxy = await FaultProxy.start({ target: { host: host!, port: Number(port) } });
  const send = (remoteDir: string, extra: string[] = []): Promise<CliResult> =>
    runFerry([
      '--home',
      clientHome,
      'send',
      source,
      `${proxy!.addressText}/${remoteDir}/`,
      '--mkdir',
      '--expect',
      serverId,
      '--chunk-size',
      chunkSize,
      '--retry-delay',
      '1',
      ...extra,
    ]);

  // A full run, for the reference time and wire bytes.
  let mark = proxy.connections.length;
  let started = performance.now();
  check(await send('full'), 'full run');
  const fullRunMs = performance.now() - started;
  const fullRunWireBytes = proxy.bytesSince(mark, 'clientToServer');

  // The interrupted run: reset once half the file crossed the proxy (over all the connections that carry
  // it, as ferry may use parallel streams); no retries.
  const cutAtBytes = Math.floor(size / 2);
  mark = proxy.connections.length;
  const pending = cutAfterTotal(proxy, mark, cutAtBytes);
  const cut = check(await send('cut', ['--retries', '0']).finally(() => pending.cancel()), 'cut run', 5);

  // The resumed run: the same command again.
  mark = proxy.connections.length;
  started = performance.now();
  const resumed = check(await send('cut', ['--retries', '0']), 'resumed run');
  const resumedRunMs = performance.now() - started;
  const resumedRunWireBytes = proxy.bytesSince(mark, 'clientToServer');
  // A run that resumed nothing says "sent", not "resumed from".
  const heldBytes = resumedBytesOf(resumed.stderr) ?? 0;
  const missingBytes = size - heldBytes;
  const landedSha = await sha256File(join(root, 'cut', 'payload.bin'));

  process.stdout.write(
    `${JSON.stringify({
      bench: 'resume-cut',
      sizeBytes: size,
      chunkSize,
      fullRunMs: Math.round(fullRunMs),
      fullRunWireBytes,
      cutAtWireBytes: cutAtBytes,
      cutRunExit: cut.code,
      heldBytesAtResume: heldBytes,
      missingBytes,
      resumedRunWireBytes,
      resumedOverheadBytes: resumedRunWireBytes - missingBytes,
      resumedRunMs: Math.round(resumedRunMs),
      resumedVsFullTime: Number((resumedRunMs / fullRunMs).toFixed(3)),
      identical: landedSha === sourceSha,
    })}\n`,
  );
} finally {
  await proxy?.close();
  await server?.stop();
  await removeTempDir(dir);
}
