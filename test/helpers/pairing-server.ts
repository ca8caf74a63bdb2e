import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import type { KeyPair } from '../../src/crypto/index.js';
import { createIdentity } from '../../src/home/index.js';
import { FerryServer, allowListAuthorize, type PairingOptions } from '../../src/server/index.js';

/** One line a server logged, parsed. */
export type LogLine = Record<string, unknown> & { event?: string; code?: string };

/** A library server with pairing on, its home and root, and what it logged. */
export interface PairingServerFixture {
  server: FerryServer;
  home: string;
  root: string;
  identity: KeyPair;
  /** `{ host, port }` to dial. */
  address: { host: string; port: number };
  /** Every log line so far, raw, in order (to check what never appears in logs). */
  readonly logText: string;
  /** Resolves with the first log line (past or future) that `match` accepts: waits on the log, never on a timer. */
  waitForLog(match: (line: LogLine) => boolean): Promise<LogLine>;
  close(): Promise<void>;
}

/**
 * Starts a `FerryServer` on 127.0.0.1:0 with a fresh identity in `<dir>/server-home`, its root in
 * `<dir>/root`, pairing on against that home, admission through the home's allow-list (read on every
 * session, like `ferry serve`), and a debug-level logger captured in memory.
 */
export async function startPairingServer(
  dir: string,
  options: { pairing?: Omit<PairingOptions, 'homeDir'> | false; handshakeTimeoutMs?: number } = {},
): Promise<PairingServerFixture> {
  const home = join(dir, 'server-home');
  const root = join(dir, 'root');
  await mkdir(dir, { recursive: true });
  const identity = await createIdentity(home);
  const lines: LogLine[] = [];
  let logText = '';
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(text: string): void {
        logText += text;
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        for (const waiter of [...waiters]) {
          if (waiter.match(line)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      },
    },
  );
  const server = await FerryServer.start({
    root,
    port: 0,
    identity,
    logger,
    partialSweepIntervalMs: 0,
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
    authorize: allowListAuthorize(home),
    ...(options.pairing === false ? {} : { pairing: { ...options.pairing, homeDir: home } }),
  });
  return {
    server,
    home,
    root,
    identity,
    address: server.address,
    get logText() {
      return logText;
    },
    waitForLog: (match) => {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    close: () => server.close(),
  };
}
