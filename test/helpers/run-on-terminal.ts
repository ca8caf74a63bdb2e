import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { FERRY_BIN } from './cli.js';

/**
 * Runs `ferry ARGS` under a pseudo-terminal (util-linux `script`), so the CLI draws its progress bars and
 * wraps its errors and notes as a terminal gets them; stdout and stderr come back as one output.
 */
export async function runOnTerminal(args: string[]): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, FERRY_BIN, ...args]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const child = spawn('script', ['-qefc', command, '/dev/null'], {
    env: { ...process.env, TERM: 'xterm-256color', COLUMNS: '200' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, output: Buffer.concat(chunks).toString('utf8') };
}
