import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Ports below this are left to services that expect their well-known numbers. */
const LOWEST_PORT = 10_240;
/** Linux's default when /proc does not say. */
const DEFAULT_EPHEMERAL = { low: 32_768, high: 60_999 };
const ATTEMPTS = 64;

/** Ports this process has handed out: a daemon may not have bound its port yet when the next is asked for. */
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a daemon started next (Swift, etcd, HAProxy, a
 * ferry server). Two things used to take such a port before its daemon bound it, and Swift then retried
 * its bind for 30 s and failed: the kernel handing the same just-closed port to the next `listen(0)` of
 * this process, and an outgoing connection taking it as its local port, since `listen(0)` picks from the
 * same ephemeral range. So the port is drawn below that range and never twice per process. Another
 * process may still take it first: the daemon's start-up then fails, loudly.
 */
export async function freePort(): Promise<number> {
  const { low } = ephemeralRange();
  if (low - LOWEST_PORT < 1_024) return kernelPickedPort();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (low - LOWEST_PORT));
    if (handedOut.has(port)) continue;
    if (await listensOn(port)) {
      handedOut.add(port);
      return port;
    }
  }
  return kernelPickedPort();
}

function ephemeralRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return { low: low!, high: high! };
  } catch {
    // Not Linux, or /proc not mounted: the default range.
  }
  return DEFAULT_EPHEMERAL;
}

/** Whether a listener could bind `port` just now (it is closed again before this resolves). */
async function listensOn(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function kernelPickedPort(): Promise<number> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port !== 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('could not find a free port');
}
