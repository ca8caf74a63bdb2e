import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { atomicWriteFile } from './atomic-write-file.js';

/** Where `ferry serve` notes the address it listens on, for `ferry invite` on the same home. */
export const SERVE_ADDRESS_FILE = 'serve-address';

/**
 * Notes the address a server on this home listens on (`host:port` as bound, `[v6]:port` for IPv6), so
 * `ferry invite` prints a `ferry pair` line that reaches it. Not secret; replaced on every start.
 */
export async function recordServeAddress(homeDir: string, address: string): Promise<void> {
  await atomicWriteFile(join(homeDir, SERVE_ADDRESS_FILE), `${address}\n`, { mode: 0o644 });
}

/**
 * The address clients should dial to reach the last server started on this home, or undefined when none
 * was. A wildcard bind (`0.0.0.0`, `::`) is reached by this machine's host name, not by the wildcard.
 */
export async function readServeAddress(homeDir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(homeDir, SERVE_ADDRESS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const address = text.trim();
  const wildcard = /^(0\.0\.0\.0|\[::\]|::):(\d+)$/.exec(address);
  return wildcard ? `${hostname()}:${wildcard[2]}` : address || undefined;
}
