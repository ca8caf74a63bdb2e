import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FERRY_BIN, ferryEnv } from '../helpers/cli.js';

/** `ferry serve --dashboard ...` as a child process, with what its banner says. */
export interface DashboardServe {
  child: ChildProcess;
  id: string;
  address: { host: string; port: number };
  /** The URL with its token, from the home's `dashboard-url` (a banner to a pipe gives no token). */
  dashboardUrl: string;
  /** What the banner printed, to a pipe. */
  banner: string;
  stderr: () => string;
  stop: () => Promise<void>;
}

/** `serve`'s arguments for HOME serving ROOT on a free loopback port, its dashboard on another. */
export function loopbackDashboardArgs(home: string, root: string): string[] {
  return ['--home', home, '--root', root, '--listen', '127.0.0.1:0', '--dashboard', '127.0.0.1:0'];
}

/**
 * Spawns `ferry serve ARGS...` (pass `--home`, `--listen` and `--dashboard`) and resolves once its banner
 * showed its ID, listen address and dashboard address. The caller must `stop()` it.
 */
export async function startServeWithDashboard(args: string[]): Promise<DashboardServe> {
  const child = spawn(process.execPath, [FERRY_BIN, 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: ferryEnv(),
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  const banner = new Map<string, string>();
  let bannerText = '';
  const lines = createInterface({ input: child.stdout });
  try {
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        bannerText += `${line}\n`;
        const match = /^\s+(id|listen|dashboard):\s+(\S+)/.exec(line);
        if (match) banner.set(match[1]!, match[2]!);
        if (banner.size === 3) resolve();
      });
      void exited.then(() => reject(new Error(`ferry serve exited before its banner:\n${stderr}`)));
    });
  } catch (err) {
    await stop();
    throw err;
  }
  child.stdout.resume();
  const [host, port] = banner.get('listen')!.split(':');
  const home = args[args.indexOf('--home') + 1]!;
  const dashboardUrl = (await readFile(join(home, 'dashboard-url'), 'utf8')).trim();
  return {
    child,
    id: banner.get('id')!,
    address: { host: host!, port: Number(port) },
    dashboardUrl,
    banner: bannerText,
    stderr: () => stderr,
    stop,
  };
}
