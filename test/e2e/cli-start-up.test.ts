// What a client command loads before its first byte (issue 16: every command pays its start-up, and a sync of
// a tree where 10 files changed is mostly start-up). Node's own modules that only some commands need are
// loaded on their first use: commander's node:child_process (for subcommands run as executables, which ferry
// has none of), and stdin's stream is not built when no question about an unknown server's key can be asked;
// on a terminal the question is still asked (through `script`, a pseudo-terminal). Run against the built CLI (`npm run build`): the bundle is what
// loads them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertExit, FERRY_BIN, ferryEnv, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/**
 * Preloaded into a `ferry` child: at exit, reports on stderr which of the watched builtins were loaded
 * (`loaded a,b`) and whether `process.stdin` was ever read (`stdin used|unused`).
 */
const PROBE = `data:text/javascript,${encodeURIComponent(`
const watched = ['child_process', 'dgram'];
const stdin = Object.getOwnPropertyDescriptor(process, 'stdin');
let used = false;
Object.defineProperty(process, 'stdin', {
  configurable: true,
  enumerable: stdin.enumerable,
  get() { used = true; return stdin.get.call(process); },
});
process.on('exit', () => {
  const loaded = watched.filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
  process.stderr.write('loaded ' + loaded.join(',') + '\\nstdin ' + (used ? 'used' : 'unused') + '\\n');
});
`)}`;

function probedFerry(args: readonly string[]): {
  code: number | null;
  stderr: string;
  loaded: string[];
  stdin: string;
} {
  const result = spawnSync(process.execPath, ['--import', PROBE, FERRY_BIN, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: ferryEnv(),
    timeout: 60_000,
  });
  return {
    code: result.status,
    stderr: result.stderr,
    loaded: (/^loaded (.*)$/m.exec(result.stderr)?.[1] ?? 'no report').split(',').filter(Boolean),
    stdin: /^stdin (.+)$/m.exec(result.stderr)?.[1] ?? `no report: ${result.stderr}`,
  };
}

describe('a client command loads what it uses', () => {
  let dir: string;
  let server: ServeProcess | undefined;
  let common: string[];

  before(async () => {
    dir = await makeTempDir('ferry-e2e-start-up-');
    const clientHome = join(dir, 'client-home');
    const serverHome = join(dir, 'server-home');
    const keygen = await runFerry(['--home', clientHome, 'keygen']);
    assertExit(keygen, 0, 'keygen');
    assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'server keygen');
    assertExit(await runFerry(['--home', serverHome, 'allow', keygen.stdout.trim()]), 0, 'allow');
    server = await startServe(['--home', serverHome, '--root', join(dir, 'root'), '--log-level', 'warn']);
    common = ['--home', clientHome, '--expect', server.id];
  });

  after(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test('--version, sync, ls and a changed re-sync load no child_process and read no stdin', async () => {
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'sub', 'a.bin'), Buffer.alloc(20_000, 1));
    await writeFile(join(tree, 'b.txt'), 'b');
    const runs: Array<{ what: string; args: string[] }> = [
      { what: '--version', args: ['--version'] },
      { what: 'sync', args: ['sync', '-q', tree, `${server!.address}/mirror`, ...common] },
      { what: 'ls', args: ['ls', '-r', `${server!.address}/mirror`, ...common] },
    ];
    for (const { what, args } of runs) {
      const run = probedFerry(args);
      assert.equal(run.code, 0, `${what}: ${run.stderr}`);
      assert.deepEqual(run.loaded, [], `${what} loaded ${run.loaded.join(', ')}`);
      assert.equal(run.stdin, 'unused', what);
    }
    // A changed file goes as a delta: the same start, then more of the client.
    await writeFile(join(tree, 'sub', 'a.bin'), Buffer.alloc(20_000, 2));
    const resync = probedFerry(['sync', '-q', tree, `${server!.address}/mirror`, ...common]);
    assert.equal(resync.code, 0, resync.stderr);
    assert.deepEqual(resync.loaded, []);
    assert.equal(resync.stdin, 'unused');
  });

  test('on a terminal, an unknown server key is still asked about, and a yes pins it', async () => {
    // `script` (util-linux) runs the command on a pseudo-terminal, so stdin and stderr are terminals; the
    // answer is typed once the question is shown.
    const home = join(dir, 'client-home');
    const address = server!.address.replace(/^127\.0\.0\.1:/, 'localhost:');
    const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, FERRY_BIN, '--home', home, 'ls', address].map(quote).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: ferryEnv(),
    });
    const failed = once(child, 'error').then(([err]) => {
      throw new Error(`script (util-linux) is needed for this test: ${String(err)}`);
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      output += text;
      if (output.includes('[y/N]') && child.stdin.writable) child.stdin.end('y\n');
    });
    const [code] = (await Promise.race([once(child, 'exit'), failed])) as [number | null];
    assert.equal(code, 0, output);
    assert.match(output, /Trust this server and remember its key\? \[y\/N\]/);
    assert.match(output, /mirror/, 'the listing of the client root follows the answer');
    // Pinned: the same address needs no question any more, also without a terminal.
    assertExit(await runFerry(['--home', home, 'ls', address]), 0, 'ls of the pinned address');
  });
});
