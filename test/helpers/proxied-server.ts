// The rig of the integration tests that move files through the library: a real FerryServer in a temporary
// directory (startTempDirServer) behind a byte-counting FaultProxy on loopback, a client key pair, and the
// options every client call needs to reach the server through the proxy. The proxy, the server and the
// directory are closed and removed when the test ends.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import type { FerryServer, ServeOptions, ServerEvent } from '../../src/server/index.js';
import type { ConnectOptions } from '../../src/client/index.js';
import { FaultProxy, type FaultPlan, type PlanFor } from './fault-proxy.js';
import { startTempDirServer } from './temp-dir-server.js';

/** The server's options (as {@link startTempDirServer} takes them) and the rig's own. */
export type ProxiedServerOptions = Partial<ServeOptions> &
  Pick<ServeOptions, 'authorize'> & {
    /** What the proxy does to each connection; default: forward faithfully. */
    plan?: FaultPlan | PlanFor | undefined;
    /** Retries of a failed attempt in {@link ProxiedServer.connect}; the backoff never sleeps. */
    retries: number;
    /** The client's key pair, when `authorize` must know it before the server starts. Default: a fresh one. */
    clientIdentity?: KeyPair;
  };

export interface ProxiedServer {
  /** The temporary directory; the server's root is `DIR/root`. */
  readonly dir: string;
  /** The server's root, resolved as the server resolved it. */
  readonly root: string;
  readonly server: FerryServer;
  /** The proxy between client and server: it counts connections and bytes, and applies the plan. */
  readonly proxy: FaultProxy;
  /** Every event the server published, in order. */
  readonly events: ServerEvent[];
  /**
   * Through the proxy as the rig's client, accepting only the server's own key, retrying `retries` times
   * with no backoff delay.
   */
  readonly connect: ConnectOptions;
  /** The result of every `session-closed` event so far (`ok` or an error code), in order. */
  readonly sessionResults: () => string[];
  /** Runs `run` and returns what it returned with the bytes the proxy forwarded each way meanwhile. */
  readonly measure: <T>(run: () => Promise<T>) => Promise<{ result: T; up: number; down: number }>;
}

/** Starts a server in a fresh temporary directory (prefix `prefix`) and a proxy in front of it. */
export async function startProxiedServer(
  t: TestContext,
  prefix: string,
  options: ProxiedServerOptions,
): Promise<ProxiedServer> {
  const { plan, retries, clientIdentity = generateKeyPair(), ...serve } = options;
  const started: { proxy?: FaultProxy } = {};
  // After hooks run in the order they were added: this one, added before the server's, closes the proxy (and
  // every connection through it) before the server closes.
  t.after(() => started.proxy?.close());
  const { dir, server } = await startTempDirServer(t, prefix, serve);
  const events: ServerEvent[] = [];
  server.events.on('event', (event: ServerEvent) => events.push(event));
  const proxy = await FaultProxy.start({ target: server.address, ...(plan ? { plan } : {}) });
  started.proxy = proxy;
  return {
    dir,
    root: server.root,
    server,
    proxy,
    events,
    connect: {
      server: proxy.address,
      identity: clientIdentity,
      verifyServer: (key) => assert.ok(key.equals(server.publicKey), 'the server key'),
      retry: { retries, random: () => 0, sleep: () => Promise.resolve() },
    },
    sessionResults: () => events.flatMap((event) => (event.type === 'session-closed' ? [event.result] : [])),
    measure: async (run) => {
      const up = proxy.totalBytes('clientToServer');
      const down = proxy.totalBytes('serverToClient');
      const result = await run();
      return {
        result,
        up: proxy.totalBytes('clientToServer') - up,
        down: proxy.totalBytes('serverToClient') - down,
      };
    },
  };
}
