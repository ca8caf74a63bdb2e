import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 10;

/**
 * Resolves once something listens on 127.0.0.1:`port` (seen in /proc/net/tcp, state 0A), without connecting:
 * a one-shot listener such as `socat TCP-LISTEN` would take a probe connection for the real one.
 */
export async function waitForListen(port: number, timeoutMs = 10_000): Promise<void> {
  const needle = `:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 0A`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const table = await readFile('/proc/net/tcp', 'utf8');
    if (table.includes(needle)) return;
    await sleep(POLL_MS);
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
