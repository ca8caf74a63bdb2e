import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, runFerry, startServe, type CliResult, type ServeProcess } from './cli.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

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

/** {@link startAdmittedServe} in a temp dir of its own, with `close` ending the server and removing the dir. */
export interface AdmittedCliInTempDir extends AdmittedCli {
  readonly dir: string;
  /** `DIR/root`, the server's root, filled by the caller before the server starts. */
  readonly root: string;
  close(): Promise<void>;
}

/**
 * Makes a temp dir (`prefix`), lets `fill(root)` put the server's files into `DIR/root`, then starts
 * {@link startAdmittedServe} there with `serveArgs`. `close` removes the dir even when the server is gone.
 */
export async function startAdmittedServeInTempDir(
  prefix: string,
  fill: (root: string) => Promise<void>,
  serveArgs: readonly string[] = [],
): Promise<AdmittedCliInTempDir> {
  const dir = await makeTempDir(prefix);
  const root = join(dir, 'root');
  try {
    await mkdir(root, { recursive: true });
    await fill(root);
    const admitted = await startAdmittedServe(dir, root, serveArgs);
    return {
      ...admitted,
      dir,
      root,
      close: async () => {
        try {
          await admitted.server.stop();
        } finally {
          await removeTempDir(dir);
        }
      },
    };
  } catch (err) {
    await removeTempDir(dir);
    throw err;
  }
}

/** Runs the client CLI of `rig` in its dir, pinned to its server (`--expect`) and without retries. */
export function rigFerry(rig: AdmittedCliInTempDir, ...args: string[]): Promise<CliResult> {
  return runFerry(['--home', rig.clientHome, ...args, '--expect', rig.serverId, '--retries', '0'], {
    cwd: rig.dir,
  });
}
