// Two ferry identities in temp homes (a client and a server), the server admitting the client, and the
// client trusting the server at each address it will dial; plus starting a fresh `ferry serve` on demand.
// Every ferry process runs from one CLI (`bin`), normally the snapshot of bench/lib/ferry-snapshot.ts.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ferryEnv } from '../../test/helpers/cli.js';
import { killTree, track } from './child-registry.js';

/** A deadline for the small commands (keygen, allow, trust) and for a server to print its banner. */
const COMMAND_DEADLINE_MS = 60_000;

/** A running `ferry serve`. */
export interface FerryServer {
  pid: number;
  /** SIGTERM, then SIGKILL of its tree if it lingers. Idempotent. */
  stop(): Promise<void>;
}

/** The client and server homes of one benchmark run; see {@link FerryPeers.create}. */
export class FerryPeers {
  readonly bin: string;
  readonly clientHome: string;
  readonly serverHome: string;
  readonly serverId: string;

  private constructor(bin: string, clientHome: string, serverHome: string, serverId: string) {
    this.bin = bin;
    this.clientHome = clientHome;
    this.serverHome = serverHome;
    this.serverId = serverId;
  }

  /** `ferry keygen` in two homes under `dir`, then `ferry allow CLIENT_ID` on the server's. */
  static async create(bin: string, dir: string): Promise<FerryPeers> {
    const clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    await runCommand(bin, ['--home', clientHome, 'keygen']);
    await runCommand(bin, ['--home', serverHome, 'keygen']);
    const clientId = (await runCommand(bin, ['--home', clientHome, 'id'])).trim();
    const serverId = (await runCommand(bin, ['--home', serverHome, 'id'])).trim();
    await runCommand(bin, ['--home', serverHome, 'allow', clientId, '--name', 'bench']);
    return new FerryPeers(bin, clientHome, serverHome, serverId);
  }

  /** `ferry trust ADDRESS SERVER_ID` in the client's home (for the server's port and each proxy's). */
  async trust(address: string): Promise<void> {
    await runCommand(this.bin, ['--home', this.clientHome, 'trust', address, this.serverId]);
  }

  /**
   * Starts `ferry serve --root ROOT --listen ADDRESS` (warnings only) and resolves once it listens; `nodeArgs`
   * go to node before the script (`--cpu-prof`: bench/delta-ab.ts --profile), `serveArgs` after `serve`'s own
   * (`--threads 2`: bench/delta-ab.ts --server-threads).
   */
  async startServer(
    root: string,
    listen: string,
    nodeArgs: readonly string[] = [],
    serveArgs: readonly string[] = [],
  ): Promise<FerryServer> {
    const args = [
      '--home',
      this.serverHome,
      'serve',
      '--root',
      root,
      '--listen',
      listen,
      '--log-level',
      'warn',
      ...serveArgs,
    ];
    const child = track(
      spawn(process.execPath, [...nodeArgs, this.bin, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: ferryEnv(),
      }),
    );
    const pid = child.pid!;
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-65536)));
    const exited = once(child, 'exit');
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const deadline = setTimeout(() => killTree(pid), 10_000);
        try {
          await exited;
        } finally {
          clearTimeout(deadline);
        }
      })();
      return stopping;
    };
    try {
      // The banner's `listen:` line says it is ready (never a timer).
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`ferry serve did not listen within ${COMMAND_DEADLINE_MS} ms: ${stderr}`)),
          COMMAND_DEADLINE_MS,
        );
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (/^\s*listen:\s+\S+/.test(line)) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`ferry serve exited (code ${child.exitCode}) before listening: ${stderr}`));
        });
      });
    } catch (err) {
      await stop();
      throw err;
    }
    return { pid, stop };
  }

  /**
   * The command line of a ferry client: `BIN --home CLIENT_HOME ARGS...`, run as a user's shell runs an
   * installed `ferry` (bin/ferry's launcher, then `node` from the PATH, which ferryEnv starts with this
   * node's directory), so the client's time includes what the launcher does and spares, as a user's does.
   */
  clientCommand(args: readonly string[]): [string, string[]] {
    return [this.bin, ['--home', this.clientHome, ...args]];
  }
}

/** Runs `ferry ARGS...` to completion; its stdout, or an error with its stderr unless it exited 0. */
async function runCommand(bin: string, args: readonly string[]): Promise<string> {
  const child = track(
    spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: ferryEnv() }),
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const deadline = setTimeout(() => killTree(child.pid!), COMMAND_DEADLINE_MS);
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0)
      throw new Error(
        `ferry ${args.filter((a) => !a.startsWith('/')).join(' ')} exited ${code}: ${stderr.trim()}`,
      );
    return stdout;
  } finally {
    clearTimeout(deadline);
  }
}
