import { join } from 'node:path';
import { assertExit, runFerry, startServe, type ServeProcess } from './cli.js';

/** A `ferry serve` on loopback and a client home on its allow-list, both made with the CLI in `dir`. */
export interface AdmittedCli {
  readonly clientHome: string;
  readonly serverHome: string;
  readonly serverId: string;
  readonly server: ServeProcess;
}

/**
 * Makes `DIR/client-home` and `DIR/server-home` with `ferry keygen`, allows the client with `ferry allow`
 * and starts `ferry serve --root ROOT` with `serveArgs`; the caller stops `server`.
 */
export async function startAdmittedServe(
  dir: string,
  root: string,
  serveArgs: readonly string[] = [],
): Promise<AdmittedCli> {
  const clientHome = join(dir, 'client-home');
  const serverHome = join(dir, 'server-home');
  const client = await runFerry(['--home', clientHome, 'keygen']);
  assertExit(client, 0, 'client keygen');
  const serverKey = await runFerry(['--home', serverHome, 'keygen']);
  assertExit(serverKey, 0, 'server keygen');
  assertExit(await runFerry(['--home', serverHome, 'allow', client.stdout.trim()]), 0, 'allow');
  const server = await startServe(['--home', serverHome, '--root', root, ...serveArgs]);
  return { clientHome, serverHome, serverId: serverKey.stdout.trim(), server };
}
