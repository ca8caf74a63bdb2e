// The server under fuzz (target e), in its own process so that a crash is seen as an exit and its memory is
// its own. Started by targets/server-target.ts with `node --import tsx --expose-gc`; configured by
// environment variables; prints one JSON line ({ port, serverPublicKey }) once listening, then answers
// 'stats' requests over IPC. It installs no 'uncaughtException' handler: a crash must kill it.
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FerryServer } from '../../src/server/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
}

/** Peak and current resident set of this process (VmHWM, VmRSS), in bytes. */
function procStatus(): { vmHwm: number; vmRss: number } {
  const text = readFileSync('/proc/self/status', 'utf8');
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { vmHwm: field('VmHWM'), vmRss: field('VmRSS') };
}

// The longest the event loop was held: every connection's deadline waits behind it. A late close with a long
// hold here is the server doing slow synchronous work (seed 1967364089: a cubic link check), not a timer.
const eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
eventLoopDelay.enable();
// The same holds in CPU time (this process's, between two turns of a 10 ms interval): a loaded machine
// stretches wall-clock holds (a process waiting for a core) but not the CPU spent without yielding.
let holdCpuMaxMs = 0;
let lastCpu = process.cpuUsage();
setInterval(() => {
  const spent = process.cpuUsage(lastCpu);
  holdCpuMaxMs = Math.max(holdCpuMaxMs, (spent.user + spent.system) / 1000);
  lastCpu = process.cpuUsage();
}, 10).unref();

const allowed = Buffer.from(env('FUZZ_CLIENT_KEY'), 'hex');
const identity = generateKeyPair();
const ended: Record<string, number> = {};
let sessionsEnded = 0;
let sessionsAdmitted = 0;

const server = await FerryServer.start({
  root: env('FUZZ_ROOT'),
  port: 0,
  identity,
  authorize: (key) =>
    key.equals(allowed)
      ? { name: 'fuzzer', permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
      : undefined,
  handshakeTimeoutMs: Number(env('FUZZ_HANDSHAKE_MS')),
  idleTimeoutMs: Number(env('FUZZ_IDLE_MS')),
  partialSweepIntervalMs: 0,
  // The fuzzer's hundreds of connections all come from 127.0.0.1; they must reach the handshake to fuzz it.
  handshakeRate: { handshakesPerSecond: 0 },
});
server.events.on('event', (event) => {
  if (event.type === 'session-opened') sessionsAdmitted++;
  if (event.type === 'session-refused' || event.type === 'session-closed') {
    sessionsEnded++;
    const key = event.type === 'session-refused' ? `refused:${event.code}` : `closed:${event.result}`;
    ended[key] = (ended[key] ?? 0) + 1;
    // Pushed, so the parent waits on this event instead of polling. The refusal's code, peer address and
    // duration let the parent tell the handshake deadline (a documented limit) from a wrongful refusal.
    process.send!({
      type: 'ended',
      sessionsEnded,
      address: event.address,
      code: event.type === 'session-refused' ? event.code : event.result,
      durationMs: event.durationMs,
    });
  }
});

process.on('message', (message: unknown) => {
  if (message !== 'stats') return;
  // Let libuv run the close callbacks of sockets whose sessions just ended before counting them.
  setImmediate(() => setImmediate(sendStats));
});

function countsOf(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

function sendStats(): void {
  // Two collections: the first may only schedule finalizers whose memory the second frees.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const memory = process.memoryUsage();
  process.send!({
    type: 'stats',
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    ...procStatus(),
    sessionsEnded,
    sessionsAdmitted,
    ended,
    openSockets: process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length,
    // What the server still waits on (file system requests on libuv's pool, timers, sockets): named in a
    // failure, so a session that never ends says whether it waits on the disk or on nothing at all.
    pending: countsOf(process.getActiveResourcesInfo()),
    gate: { ...server.gate?.stats },
    eventLoopMaxMs: Math.round(eventLoopDelay.max / 1e6),
    eventLoopMaxCpuMs: Math.round(holdCpuMaxMs),
  });
}
process.on('disconnect', () => void server.close().then(() => process.exit(0)));

process.stdout.write(
  `${JSON.stringify({ port: server.address.port, serverPublicKey: server.publicKey.toString('hex') })}\n`,
);
