// An upload session holds what it received and has not written yet: its receive blocks with the server's
// workers and queued, the records not yet handled, the writer's batches. Under a disk slower than the
// network that is its whole window, 21-27 MiB a session (stop 38, measured), bounded by sessions only: 32 a
// key, 1,024 in all (about 0.8 and 27 GiB). Now counted against the server's upload memory
// (`--upload-memory[-per-client]`), per client and in total; past either a session stops reading its socket
// until its own data is written. Real `ferry serve` processes over a FUSE root whose large writes wait while
// the test holds them (a disk that stopped taking data), the server's resident memory read while they wait.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { sendFiles } from '../../src/client/index.js';
import { loadIdentity } from '../../src/home/index.js';
import { startAdmittedServe } from '../helpers/admitted-cli.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { mountLowerCaseFs } from '../helpers/lower-case-fs.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const MIB = 1024 * 1024;
const SESSIONS = 6;
const FILE_BYTES = 24 * MIB;
/** The per-client bound the test sets: less than one session's window at full speed. */
const SHARE_BYTES = 4 * MIB;

/** The resident memory of process `pid`, in bytes. */
async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) * 1024;
}

/**
 * Resolves once the proxy has forwarded nothing more for a second: every session is then held by the
 * server (TCP pushes back on the client), as far as the server reads. A condition polled, not a fixed wait:
 * how long the sessions take to fill their windows depends on the machine.
 */
async function quiet(proxy: FaultProxy, connections: number[]): Promise<void> {
  let last = -1;
  let still = 0;
  for (let polls = 0; polls < 600; polls++) {
    const now = proxy.totalBytes('clientToServer');
    const started = connections.every((i) => (proxy.connections[i]?.bytes.clientToServer ?? 0) >= MIB);
    still = started && now === last ? still + 1 : 0;
    if (still >= 10) return;
    last = now;
    await delay(100);
  }
  throw new Error(`the uploads never settled: ${proxy.totalBytes('clientToServer')} bytes forwarded`);
}

/**
 * Starts `ferry serve --threads 2 ARGS` over a held FUSE root, has SESSIONS uploads of one client wait on
 * it, and returns how much the server's resident memory grew; then lets the disk go and checks each file
 * arrived whole.
 */
async function growthWithHeldDisk(
  t: TestContext,
  args: readonly string[],
): Promise<{ resident: number; forwarded: number }> {
  const threads = args.includes('--threads') ? [] : ['--threads', '2'];
  const dir = await makeTempDir('ferry-upload-memory-');
  t.after(() => removeTempDir(dir));
  const gate = join(dir, 'disk-held');
  const root = await mountLowerCaseFs(t, { writeGate: gate });
  const rig = await startAdmittedServe(dir, root, [...threads, ...args]);
  t.after(() => rig.server.stop());
  const colon = rig.server.address.lastIndexOf(':');
  const proxy = await FaultProxy.start({
    target: { host: rig.server.address.slice(0, colon), port: Number(rig.server.address.slice(colon + 1)) },
  });
  t.after(() => proxy.close());
  const identity = await loadIdentity(rig.clientHome);
  const send = (name: string): Promise<unknown> =>
    sendFiles({
      server: proxy.address,
      identity,
      verifyServer: () => undefined,
      retry: { retries: 0 },
      files: [join(dir, name)],
      streams: 1,
    });
  for (let i = -1; i < SESSIONS; i++) {
    await writeFile(join(dir, `file${i}`), `head ${i}`);
    await truncate(join(dir, `file${i}`), i < 0 ? 4 * MIB : FILE_BYTES);
  }
  // One upload first, so the server's threads and buffers exist before the measurement starts.
  await send('file-1');
  const before = await residentBytes(rig.server.process.pid!);
  const forwardedBefore = proxy.totalBytes('clientToServer');
  await writeFile(gate, '');
  const sends = [];
  for (let i = 0; i < SESSIONS; i++) sends.push(send(`file${i}`));
  // The first connection (index 0) was the warm-up's.
  await quiet(
    proxy,
    Array.from({ length: SESSIONS }, (_, i) => i + 1),
  );
  const after = await residentBytes(rig.server.process.pid!);
  const forwarded = proxy.totalBytes('clientToServer') - forwardedBefore;
  await rm(gate);
  await Promise.all(sends);
  for (let i = 0; i < SESSIONS; i++) assert.equal((await stat(join(root, `file${i}`))).size, FILE_BYTES);
  return { resident: after - before, forwarded };
}

/** Runs the uploads with the default upload memory and with SHARE_BYTES a client; returns what was seen. */
async function unboundedAndBounded(
  t: TestContext,
  args: readonly string[],
): Promise<{ unbounded: number; bounded: number; seen: string }> {
  const unbounded = await growthWithHeldDisk(t, args);
  const bounded = await growthWithHeldDisk(t, [...args, '--upload-memory-per-client', String(SHARE_BYTES)]);
  const mib = (bytes: number): string => (bytes / MIB).toFixed(0);
  const seen =
    `resident memory grew ${mib(bounded.resident)} MiB bounded, ${mib(unbounded.resident)} MiB by default; ` +
    `the server and its sockets took ${mib(bounded.forwarded)} and ${mib(unbounded.forwarded)} MiB`;
  t.diagnostic(seen);
  return { unbounded: unbounded.resident, bounded: bounded.resident, seen };
}

test('--upload-memory-per-client bounds what one client`s uploads hold while the disk does not write', async (t) => {
  const { unbounded, bounded, seen } = await unboundedAndBounded(t, []);
  // Before: both grew alike, by 10-20 MiB a session (what the kernel's socket buffers hold is not counted).
  assert.ok(bounded < SHARE_BYTES + 12 * MIB, seen);
  assert.ok(bounded + 24 * MIB < unbounded, seen);
});

test('--upload-memory-per-client bounds the uploads of a server without threads (records opened here)', async (t) => {
  const { unbounded, bounded, seen } = await unboundedAndBounded(t, ['--threads', '1']);
  // Before: about 10 MiB a session (the queue of records and the writer's batches), bounded or not.
  assert.ok(bounded < SHARE_BYTES + 12 * MIB, seen);
  assert.ok(bounded + 24 * MIB < unbounded, seen);
});
