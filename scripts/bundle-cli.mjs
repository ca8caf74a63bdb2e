#!/usr/bin/env node
// The second step of `npm run build`, after tsc: bundles the CLI that bin/ferry runs into dist/cli-bundle/,
// then warms V8's code cache for it (issues 14 and 16: every command pays its start-up before its first byte;
// loading ~250-330 separate ES modules cost ~0.1-0.2 s of CPU, ~20 ES chunks still ~70 ms over a bare node).
// Library users keep tsc's one-file-per-module dist/ (dist/index.js).
//
// - main.cjs: the whole CLI in one CommonJS script. bin/ferry compiles it with a code cache (node:vm), which
//   Node 20 offers for scripts but not for ES modules. esbuild keeps command-modules.ts's lazy loading: a
//   module reached only through a dynamic import is evaluated on its first use, so `ferry send` still
//   evaluates none of the server, dashboard, pairing or config code.
// - Input is tsc's output (dist/), so the bundle runs exactly the JavaScript tsc emitted; esbuild follows
//   tsc's source maps, so the bundle's map points into src/.
// - The small pure-JavaScript dependencies every command loads (commander, picocolors, @noble/*) are bundled,
//   so their compiled code is in the cache too; the large or rarely used ones (the S3 client, pino, zod,
//   cli-progress) stay in node_modules and are required when used.
// - import.meta.url (which the sources resolve worker files and package.json against) is the bundle's own
//   URL, so `../../package.json` and `./seal-worker.js` resolve as from dist/cli/ and dist/transfer/pipeline/.
// - The two worker threads' entry files are ES module bundles of their own, beside main.cjs.
// - The code cache (main.cjs.cache) is written by a warm-up: bin/ferry run with FERRY_WRITE_CODE_CACHE=1
//   through `--help` (every command module evaluated) and real loopback sessions (send, sync, get, ls), each
//   run starting from the cache the last one wrote, so the cache holds every function they compiled.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = `${ROOT}dist/cli-bundle`;
const BIN = `${ROOT}bin/ferry`;
/** Packages left in node_modules: large (the S3 client) or loaded by few commands. */
const EXTERNAL = ['@aws-sdk/*', 'pino', 'zod', 'cli-progress'];
/** Worker entry (the output file's base name) -> tsc's output it is built from. */
const WORKERS = {
  'seal-worker': 'dist/transfer/pipeline/seal-worker.js',
  'small-file-worker': 'dist/server/small-file-worker.js',
};
/** A deadline for each warm-up command: a hung one fails the build instead of stalling it. */
const WARM_UP_DEADLINE_MS = 60_000;
/**
 * The warm-up's environment: no FERRY_HOME, and no NODE_OPTIONS, whose V8 flags (say a heap limit set for a
 * test run) would be part of the cache's flag hash, and V8 would reject the cache in a plain `ferry`.
 */
const { NODE_OPTIONS: _nodeOptions, ...WARM_UP_ENV } = { ...process.env, FERRY_HOME: '' };

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const shared = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  // Comments and indentation are most of tsc's output: without them main.cjs is 1.08 MB, not 1.68, and every
  // start reads, hashes and decodes less (bin/ferry), ~4-6 ms of CPU (issue 16). Names stay: stack traces and
  // profiles read as before, and --debug maps them into src/ through the source map.
  minifyWhitespace: true,
  logLevel: 'warning',
};
await build({
  ...shared,
  entryPoints: ['dist/cli/main.js'],
  outfile: `${OUT}/main.cjs`,
  format: 'cjs',
  external: EXTERNAL,
  define: { 'import.meta.url': 'importMetaUrl' },
  // A dynamic import() of a module left out of the bundle (node:child_process in replaced-file.ts) fails in
  // a script compiled by node:vm, as bin/ferry compiles this one (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING):
  // esbuild turns each into a require() behind a promise, which the wrapper's `require` serves.
  supported: { 'dynamic-import': false },
  banner: { js: "var importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [lazyChildProcessInCommander()],
});
await build({
  ...shared,
  entryPoints: Object.entries(WORKERS).map(([out, input]) => ({ in: input, out })),
  outdir: OUT,
  format: 'esm',
  packages: 'external',
});
for (const name of ['main.cjs', ...Object.keys(WORKERS).map((w) => `${w}.js`)])
  if (!existsSync(`${OUT}/${name}`)) throw new Error(`bundle-cli: dist/cli-bundle/${name} was not written`);

await warmCodeCache();
if (!existsSync(`${OUT}/main.cjs.cache`)) throw new Error('bundle-cli: the code cache was not written');

/**
 * commander requires node:child_process at its top for one feature ferry does not use (a subcommand run as
 * its own executable), and every command paid for loading it, with the net and dgram modules it pulls
 * (issue 16). In the bundle, commander's `childProcess` loads it on its first use instead. A commander whose
 * line differs fails the build, rather than loading it eagerly again unnoticed.
 */
function lazyChildProcessInCommander() {
  const EAGER = "const childProcess = require('node:child_process');";
  const LAZY =
    'let childProcessModule; const childProcess = { spawn: (...args) => ' +
    "(childProcessModule ??= require('node:child_process')).spawn(...args) };";
  return {
    name: 'lazy-child-process-in-commander',
    setup(esbuild) {
      esbuild.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
        const code = await readFile(args.path, 'utf8');
        if (
          !code.includes(EAGER) ||
          code.split('childProcess.').length - 1 !== code.split('childProcess.spawn(').length - 1
        )
          throw new Error(`bundle-cli: ${args.path} no longer loads child_process as expected`);
        return { contents: code.replace(EAGER, LAZY), loader: 'js' };
      });
    },
  };
}

/** Runs the warm-up commands in a temporary directory, on loopback; throws with their output on a failure. */
async function warmCodeCache() {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-code-cache-'));
  const home = { client: join(dir, 'client'), server: join(dir, 'server') };
  const ferry = (args, { cache = true } = {}) => {
    const result = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      timeout: WARM_UP_DEADLINE_MS,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...WARM_UP_ENV, FERRY_WRITE_CODE_CACHE: cache ? '1' : '' },
    });
    if (result.status !== 0)
      throw new Error(
        `bundle-cli warm-up: ferry ${args.join(' ')} exited ${result.status}\n${result.stderr}`,
      );
    return result.stdout;
  };
  let server;
  try {
    ferry(['--help']);
    ferry(['--home', home.client, 'keygen']);
    ferry(['--home', home.server, 'keygen'], { cache: false });
    const clientId = ferry(['--home', home.client, 'id']).trim();
    ferry(['--home', home.server, 'allow', clientId], { cache: false });
    server = await startServer(home.server, join(dir, 'root'));
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'sub'), { recursive: true });
    for (let i = 0; i < 8; i++)
      writeFileSync(join(tree, 'sub', `f${i}.bin`), Buffer.alloc(3000 + i * 5000, i));
    const remote = (path) => `${server.address}/${path}`;
    const client = ['--home', home.client];
    ferry([...client, 'send', join(tree, 'sub', 'f7.bin'), remote('one/'), '--mkdir', '--expect', server.id]);
    ferry([...client, 'sync', tree, remote('mirror')]);
    // A second sync with a changed file: the delta path.
    writeFileSync(join(tree, 'sub', 'f6.bin'), Buffer.alloc(3000 + 6 * 5000, 99));
    ferry([...client, 'sync', tree, remote('mirror')]);
    ferry([...client, 'ls', remote('mirror/sub')]);
    mkdirSync(join(dir, 'back'));
    ferry([...client, 'get', remote('one/f7.bin'), join(dir, 'back')]);
  } finally {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `ferry serve` on 127.0.0.1:0 (no cache writes of its own); resolves with its address and ID from the banner. */
function startServer(home, root) {
  const child = spawn(
    process.execPath,
    [BIN, '--home', home, 'serve', '--root', root, '--listen', '127.0.0.1:0', '--log-level', 'warn'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...WARM_UP_ENV, FERRY_WRITE_CODE_CACHE: '' },
    },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s) => (stderr += s));
  return new Promise((resolve, reject) => {
    let id;
    createInterface({ input: child.stdout }).on('line', (line) => {
      id ??= /^\s*id:\s+(\S+)/.exec(line)?.[1];
      const address = /^\s*listen:\s+(\S+)/.exec(line)?.[1];
      if (address && id) resolve({ address, id, stop });
    });
    child.once('exit', (code) =>
      reject(new Error(`bundle-cli warm-up: ferry serve exited ${code}\n${stderr}`)),
    );
    const exited = new Promise((done) => child.once('exit', done));
    const stop = () => {
      child.kill('SIGTERM');
      return exited;
    };
  });
}
