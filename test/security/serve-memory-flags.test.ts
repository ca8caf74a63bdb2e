// `ferry serve` sets the two memory bounds stop 34 added, which only the library could set: the listing
// memory of an object store (`--listing-memory[-per-client]`, with `--store`) and the download memory
// (`--download-memory[-per-client]`: blocks downloads sealed on the server's threads hold beyond each
// stream's first). Real `ferry serve` processes; the download memory is seen in the server's resident memory
// while downloads it sends are stalled (a client that stopped reading).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getFiles } from '../../src/client/index.js';
import { loadIdentity } from '../../src/home/index.js';
import { assertExit, runFerry } from '../helpers/cli.js';
import { startServeBehindProxy } from '../helpers/serve-behind-proxy.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const MIB = 1024 * 1024;
const SESSIONS = 10;

/** The resident memory of process `pid`, in bytes. */
async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) * 1024;
}

/**
 * Starts `ferry serve --threads 2 ARGS`, has SESSIONS downloads of a 64 MiB file stall (the proxy stops
 * reading the server after 1 MiB of each), and returns how much the server's resident memory grew.
 */
async function growthWithStalledDownloads(args: readonly string[]): Promise<number> {
  const rig = await startServeBehindProxy('ferry-serve-memory-', ['--threads', '2', ...args]);
  try {
    await writeFile(join(rig.root, 'big'), 'head');
    await truncate(join(rig.root, 'big'), 64 * MIB);
    const identity = await loadIdentity(rig.clientHome);
    const download = (index: number): Promise<unknown> =>
      getFiles({
        server: rig.proxy.address,
        identity,
        verifyServer: () => undefined,
        retry: { retries: 0 },
        remotePaths: ['big'],
        localDir: join(rig.dir, `local-${index}`),
        streams: 1,
      }).catch((err: unknown) => err);
    // One download first, so the server's threads and buffers exist before the measurement starts.
    await download(-1);
    const before = await residentBytes(rig.server.process.pid!);
    rig.proxy.setPlan({ stall: { afterBytes: MIB, direction: 'serverToClient' } });
    const downloads: Promise<unknown>[] = [];
    for (let i = 0; i < SESSIONS; i++) downloads.push(download(i));
    // The first connection (index 0) was the warm-up's.
    for (let i = 1; i <= SESSIONS; i++) await (await rig.proxy.connection(i)).stalled;
    const after = await residentBytes(rig.server.process.pid!);
    await rig.proxy.close();
    await Promise.all(downloads);
    return after - before;
  } finally {
    await rig.close();
  }
}

test('--download-memory-per-client bounds what one client`s stalled downloads hold', async (t) => {
  // Each stalled stream holds its window (8 blocks of about 2 MiB at 2 threads): 7 beyond its first, so
  // about 128 MiB by default (the per-client default) and none with the flag (a block is 2 MiB).
  const unbounded = await growthWithStalledDownloads([]);
  const bounded = await growthWithStalledDownloads(['--download-memory-per-client', '2M']);
  t.diagnostic(
    `grew ${(bounded / MIB).toFixed(0)} MiB bounded, ${(unbounded / MIB).toFixed(0)} MiB by default`,
  );
  // Before (no flag): both grew alike, by about SESSIONS x 16 MiB.
  assert.ok(
    bounded + 60 * MIB < unbounded,
    `resident memory grew ${(bounded / MIB).toFixed(0)} MiB bounded, ${(unbounded / MIB).toFixed(0)} MiB by default`,
  );
});

test('the memory flags refuse 0, a per-client bound above the total, and listing bounds without --store', async () => {
  const dir = await makeTempDir('ferry-serve-memory-usage-');
  try {
    const home = join(dir, 'home');
    assertExit(await runFerry(['--home', home, 'keygen']), 0, 'keygen');
    const serve = (...args: string[]): ReturnType<typeof runFerry> =>
      runFerry(['--home', home, 'serve', '--root', join(dir, 'root'), '--listen', '127.0.0.1:0', ...args]);
    const zero = await serve('--download-memory', '0');
    assertExit(zero, 2, '--download-memory 0');
    assert.match(zero.stderr, /--download-memory takes 1 byte or more, got 0/);
    const above = await serve('--download-memory-per-client', '1G');
    assertExit(above, 2, '--download-memory-per-client above the default total');
    assert.match(above.stderr, /--download-memory-per-client 1G is more than --download-memory 512M/);
    const noStore = await serve('--listing-memory-per-client', '1M');
    assertExit(noStore, 2, '--listing-memory-per-client without --store');
    assert.match(noStore.stderr, /--listing-memory\[-per-client\] need --store s3:\/\/BUCKET\/PREFIX/);
    // A config file's keys are the flags: the same checks.
    const config = join(dir, 'serve.json');
    await writeFile(config, JSON.stringify({ 'download-memory': '4M', 'download-memory-per-client': '8M' }), {
      mode: 0o600,
    });
    const fromConfig = await serve('--config', config);
    assertExit(fromConfig, 2, 'a config file with a per-client bound above the total');
    assert.match(fromConfig.stderr, /--download-memory-per-client 8M is more than --download-memory 4M/);
  } finally {
    await removeTempDir(dir);
  }
});
