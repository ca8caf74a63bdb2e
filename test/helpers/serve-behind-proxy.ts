// The rig of the end-to-end tests of one `ferry serve` process: a client home and a server home with fresh
// keys, the client allowed (the default grant, upload and download), `ferry serve` over `DIR/root` on
// loopback, and a byte-counting FaultProxy in front of it that the CLI dials.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from './cli.js';
import { FaultProxy } from './fault-proxy.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

export interface ServeBehindProxy {
  /** The temporary directory everything lives in. */
  readonly dir: string;
  readonly clientHome: string;
  readonly serverHome: string;
  /** The server's root, `DIR/root`. */
  readonly root: string;
  /** The server's ferry ID, for `--expect`. */
  readonly serverId: string;
  readonly server: ServeProcess;
  /** Between the CLI and the server: dial `proxy.addressText`; it counts the bytes each way. */
  readonly proxy: FaultProxy;
  /** Stops the proxy and the server and removes the directory. Idempotent. */
  close(): Promise<void>;
}

/** Makes the keys, starts `ferry serve ARGS` and the proxy; on any failure stops what it started. */
export async function startServeBehindProxy(
  prefix: string,
  serveArgs: readonly string[] = [],
): Promise<ServeBehindProxy> {
  const dir = await makeTempDir(prefix);
  let server: ServeProcess | undefined;
  let proxy: FaultProxy | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await proxy?.close();
      await server?.stop();
      await removeTempDir(dir);
    })());
  try {
    const clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    const root = join(dir, 'root');
    const keygen = async (home: string): Promise<string> => {
      const result = await runFerry(['--home', home, 'keygen']);
      assertExit(result, 0, 'keygen');
      return result.stdout.trim();
    };
    const clientId = await keygen(clientHome);
    const serverId = await keygen(serverHome);
    assertExit(await runFerry(['--home', serverHome, 'allow', clientId]), 0, 'allow');
    await mkdir(root, { recursive: true });
    server = await startServe(['--home', serverHome, '--root', root, ...serveArgs]);
    const colon = server.address.lastIndexOf(':');
    proxy = await FaultProxy.start({
      target: { host: server.address.slice(0, colon), port: Number(server.address.slice(colon + 1)) },
    });
    return { dir, clientHome, serverHome, root, serverId, server, proxy, close };
  } catch (err) {
    await close();
    throw err;
  }
}
