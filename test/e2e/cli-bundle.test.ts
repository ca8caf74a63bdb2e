// The CLI that bin/ferry runs is a bundle (dist/cli-bundle/main.cjs, scripts/bundle-cli.mjs; issues 14 and 16:
// module loading and compiling were most of a command's start-up), compiled from V8's code cache the build
// wrote. In the bundle, import.meta.url is the bundle's path, not the source file's: everything the sources
// find relative to it (the worker threads' entry files, package.json) must be beside it or above it as from
// the sources, and the worker threads must still start. Run against the built CLI: `npm run build`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, open, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertExit, FERRY_BIN, ferryEnv, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(REPO_ROOT, 'dist', 'cli-bundle');
const SMALL_FILES = 40;
/** Several of the pool's blocks, so both worker threads of `--threads 2` get chunks to seal and open. */
const LARGE_FILE_BYTES = 3 * 1024 * 1024 + 12_345;

/**
 * Preloaded into a `ferry` child: reports on stderr at exit whether the bundle was compiled with a code cache
 * and whether V8 took it (`code-cache accepted|rejected|none`), and which packages were required
 * (`packages a,b`), by wrapping node:vm's Script before bin/ferry imports it.
 */
const PROBE = `data:text/javascript,${encodeURIComponent(`
import vm from 'node:vm';
import { createRequire, syncBuiltinESMExports } from 'node:module';
const Original = vm.Script;
let verdict = 'not compiled';
vm.Script = class extends Original {
  constructor(code, options) {
    super(code, options);
    if (String(options?.filename).endsWith('main.cjs'))
      verdict = options.cachedData ? (this.cachedDataRejected ? 'rejected' : 'accepted') : 'none';
  }
};
syncBuiltinESMExports();
process.on('exit', () => {
  const packages = new Set(Object.keys(createRequire(process.argv[1]).cache)
    .map((path) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(path)?.[1]).filter(Boolean));
  process.stderr.write('code-cache ' + verdict + '\\npackages ' + [...packages].sort().join(',') + '\\n');
});
`)}`;

/**
 * Preloaded into a `ferry` child: reports on stderr, as each starts, the programs it starts through
 * child_process.spawn (`spawned PROGRAM`), by wrapping node:child_process's spawn before the bundle loads it.
 */
const SPAWN_PROBE = `data:text/javascript,${encodeURIComponent(`
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { writeSync } from 'node:fs';
const original = childProcess.spawn;
childProcess.spawn = function (command, ...rest) {
  writeSync(2, 'spawned ' + command + '\\n');
  return original.call(this, command, ...rest);
};
syncBuiltinESMExports();
`)}`;

/** `ferry ARGS...` under the probe, from `bin` (default the checkout's bin/ferry). */
function probedFerry(
  args: readonly string[],
  bin = FERRY_BIN,
): { code: number | null; stdout: string; stderr: string; cache: string; packages: string[] } {
  const result = spawnSync(process.execPath, ['--import', PROBE, bin, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: ferryEnv(),
    timeout: 60_000,
  });
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    cache: /^code-cache (.+)$/m.exec(result.stderr)?.[1] ?? `no report: ${result.stderr}`,
    packages: (/^packages (.*)$/m.exec(result.stderr)?.[1] ?? '').split(',').filter(Boolean),
  };
}

/** A copy of the built CLI in `dir` (bin/, package.json, the bundle; node_modules linked); returns its bundle's folder. */
async function copyCli(dir: string): Promise<string> {
  await cp(join(REPO_ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  await cp(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  const bundle = join(dir, 'dist', 'cli-bundle');
  await cp(BUNDLE, bundle, { recursive: true });
  return bundle;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('the bundled CLI', () => {
  test('bin/ferry runs the bundle, and the bundle reaches nothing of dist/ outside its own folder', () => {
    assert.match(
      readFileSync(FERRY_BIN, 'utf8'),
      /join\(__dirname, '\.\.', 'dist', 'cli-bundle', 'main\.cjs'\)/,
    );
    const files = readdirSync(BUNDLE).filter((f) => f.endsWith('.js') || f.endsWith('.cjs'));
    for (const entry of ['main.cjs', 'seal-worker.js', 'small-file-worker.js'])
      assert.ok(files.includes(entry), `${entry} is in dist/cli-bundle/ (npm run build)`);
    // Each file is whole: it imports or requires nothing relative, only packages and node: builtins.
    for (const file of files) {
      const code = readFileSync(join(BUNDLE, file), 'utf8');
      const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^import\s*|\brequire\(\s*)"([^"]+)"/gm;
      for (const [, specifier] of code.matchAll(pattern))
        assert.ok(!specifier!.startsWith('.'), `${file} loads ${specifier}`);
    }
  });

  test('every file the sources find relative to import.meta.url is there relative to the bundle too', () => {
    // A source that resolves a path against import.meta.url, resolved as its code would from the bundle in
    // dist/cli-bundle/ (its import.meta.url is main.cjs's). A new worker entry not added to
    // scripts/bundle-cli.mjs fails here instead of at a user's first transfer.
    let checked = 0;
    for (const file of sourceFiles(join(REPO_ROOT, 'src'))) {
      const code = readFileSync(file, 'utf8');
      if (!code.includes('import.meta.url')) continue;
      const literals = [...code.matchAll(/(?<!from |import\()'(\.\.?\/[^']+\.(?:js|json))'/g)].map(
        (m) => m[1]!,
      );
      for (const literal of literals) {
        const target = resolve(BUNDLE, literal);
        assert.ok(
          existsSync(target),
          `${relative(REPO_ROOT, file)} resolves ${literal}: ${relative(REPO_ROOT, target)} must exist`,
        );
        checked++;
      }
    }
    // seal-worker.js, small-file-worker.js, ../../package.json at least: the scan found what it looks for.
    assert.ok(checked >= 3, `${checked} paths checked`);
  });

  test('bin/ferry compiles the bundle from the code cache the build made, and V8 takes it', () => {
    const run = probedFerry(['sync', '--help']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.cache, 'accepted');
  });

  test('a code cache made from other bytes is not used: the bundle is compiled from its source', async () => {
    // V8 checks only a cache's source length, so the same length with other bytes would run the old code: a
    // copy of the CLI whose bundle says one word differently, of the same length, beside the original cache.
    const copy = await makeTempDir('ferry-e2e-code-cache-');
    try {
      const bundle = await copyCli(copy);
      const code = await readFile(join(bundle, 'main.cjs'), 'utf8');
      const original = 'secure, verifiable, resumable file transfer';
      assert.ok(code.includes(original), 'the program description is in the bundle');
      await writeFile(join(bundle, 'main.cjs'), code.replace(original, original.toUpperCase()));
      const run = probedFerry(['--help'], join(copy, 'bin', 'ferry'));
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.cache, 'none');
      assert.match(run.stdout, /SECURE, VERIFIABLE, RESUMABLE FILE TRANSFER/);
    } finally {
      await removeTempDir(copy);
    }
  });

  describe('serve, send and get through the built CLI', () => {
    let dir: string;
    let root: string;
    let server: ServeProcess | undefined;
    let common: string[];

    before(async () => {
      dir = await makeTempDir('ferry-e2e-bundle-');
      const clientHome = join(dir, 'client-home');
      const serverHome = join(dir, 'server-home');
      root = join(dir, 'root');
      const keygen = await runFerry(['--home', clientHome, 'keygen']);
      assertExit(keygen, 0, 'keygen');
      assertExit(await runFerry(['--home', serverHome, 'keygen']), 0, 'server keygen');
      assertExit(await runFerry(['--home', serverHome, 'allow', keygen.stdout.trim()]), 0, 'allow');
      server = await startServe(['--home', serverHome, '--root', root, '--log-level', 'warn']);
      common = ['--home', clientHome, '--expect', server.id];
    });

    after(async () => {
      await server?.stop();
      await removeTempDir(dir);
    });

    test('--version and -V read package.json from the bundle', async () => {
      const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
      for (const flag of ['--version', '-V']) {
        const result = await runFerry([flag]);
        assertExit(result, 0, flag);
        assert.equal(result.stdout.trim(), pkg.version);
      }
    });

    test('--debug prints a stack trace in terms of the TypeScript sources (the source map)', async () => {
      const result = await runFerry([
        '--debug',
        '--home',
        join(dir, 'no-home'),
        'send',
        join(dir, 'missing.bin'),
        server!.address,
      ]);
      assertExit(result, 3, 'send with a home that has no identity');
      assert.match(result.stderr, /KEY_NOT_FOUND/);
      assert.match(result.stderr, /\bsrc\/cli\/send-command\.ts:\d+/, `stack trace:\n${result.stderr}`);
    });

    test('a send evaluates only the client: none of the server logger, config schema or S3 packages', async () => {
      const file = join(dir, 'lazy.bin');
      await writeRandomFile(file, 5000);
      const run = probedFerry(['send', file, `${server!.address}/lazy/`, '--mkdir', ...common]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.cache, 'accepted');
      // Required by `serve` (pino, zod) and by object-store flags (@aws-sdk): a send that evaluated the server's
      // modules, or every command's, would have required them.
      for (const unwanted of ['pino', 'zod', '@aws-sdk'])
        assert.ok(
          !run.packages.some((p) => p.startsWith(unwanted)),
          `${unwanted} was required: ${run.packages.join(', ')}`,
        );
      assert.equal(await sha256File(join(root, 'lazy', 'lazy.bin')), await sha256File(file));
    });

    test('the key and invite commands evaluate none of the server: the library waits for --coordination', () => {
      const home = common[1]!;
      for (const args of [
        ['--home', home, 'id'],
        ['--home', home, 'clients'],
        ['--home', home, 'invites'],
      ]) {
        const run = probedFerry(args);
        assert.equal(run.code, 0, run.stderr);
        // pino (the server's logger) and zod (its config schema) came with src/index.ts, which
        // coordination-flags.ts imported for every command of key-commands.ts and invite-command.ts.
        for (const unwanted of ['pino', 'zod', '@aws-sdk'])
          assert.ok(
            !run.packages.some((p) => p.startsWith(unwanted)),
            `ferry ${args.join(' ')}: ${unwanted} was required: ${run.packages.join(', ')}`,
          );
      }
    });

    test('serve places a batch of small files through its worker thread', async () => {
      const random = new SeededRandom(22);
      const contents = new Map<string, Buffer>();
      for (let i = 0; i < SMALL_FILES; i++) {
        const name = `${i % 2 ? 'a' : 'b'}/f${i}.txt`;
        const bytes = random.bytes(random.int(1, 4096));
        contents.set(name, bytes);
        await mkdir(dirname(join(dir, 'tree', name)), { recursive: true });
        await writeFile(join(dir, 'tree', name), bytes);
      }
      const sent = await runFerry([
        'send',
        '-r',
        join(dir, 'tree'),
        `${server!.address}/up/`,
        '--mkdir',
        ...common,
      ]);
      assertExit(sent, 0, 'send -r');
      // Built code starts the worker from the file beside its chunk or fails (INTERNAL): no fallback.
      for (const [name, bytes] of contents)
        assert.deepEqual(readFileSync(join(root, 'up', 'tree', name)), bytes, name);
      assert.doesNotMatch(server!.stderr, /worker/i, 'the server logged no worker failure');
    });

    test('send --threads 2 seals and get --threads 2 opens on the worker pool', async () => {
      const file = join(dir, 'large.bin');
      const digest = await writeRandomFile(file, LARGE_FILE_BYTES);
      const sent = await runFerry([
        'send',
        file,
        `${server!.address}/pool/`,
        '--mkdir',
        '--threads',
        '2',
        ...common,
      ]);
      assertExit(sent, 0, 'send --threads 2');
      assert.equal(await sha256File(join(root, 'pool', 'large.bin')), digest);
      const back = join(dir, 'back');
      await mkdir(back);
      const got = await runFerry([
        'get',
        `${server!.address}/pool/large.bin`,
        back,
        '--threads',
        '2',
        ...common,
      ]);
      assertExit(got, 0, 'get --threads 2');
      assert.equal(await sha256File(join(back, 'large.bin')), digest);
    });

    test('get --overwrite of 64 MiB exits once the replaced file is freed: it leaves no process behind', async () => {
      // Stop 36 handed a replaced file of 64 MiB or more to a detached /bin/cat that freed it after ferry had
      // exited (~0.25 s per GiB here); `get --overwrite ... && umount` then failed with "target is busy".
      // When ferry exits, its work on the file system is done, as rsync's and scp's is (stop 37). Run through
      // the bundle: there a dynamic import() of node:child_process threw inside node:vm and the hand-off
      // never ran, which the library's tests did not see. One byte changed in a file of 64 MiB.
      const sent = join(root, 'replaced.bin');
      const digest = await writeRandomFile(sent, 64 * 1024 * 1024);
      const into = join(dir, 'replace-into');
      await mkdir(into);
      await cp(sent, join(into, 'replaced.bin'));
      const handle = await open(sent, 'r+');
      await handle.write(Buffer.from([0]), 0, 1, 5000);
      await handle.close();
      const after = await sha256File(sent);
      assert.notEqual(after, digest);
      const got = spawnSync(
        process.execPath,
        [
          '--import',
          SPAWN_PROBE,
          FERRY_BIN,
          'get',
          '-q',
          '--overwrite',
          `${server!.address}/replaced.bin`,
          into,
          ...common,
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: ferryEnv(), timeout: 60_000 },
      );
      assert.equal(got.status, 0, got.stderr);
      assert.equal(await sha256File(join(into, 'replaced.bin')), after);
      assert.doesNotMatch(got.stderr, /^spawned /m, 'ferry started no process');
    });

    test('a code cache written by a command that ran worker threads is taken by the next command', async () => {
      // The build's warm-up writes the cache at each command's exit (FERRY_WRITE_CODE_CACHE=1). V8 stamps it
      // with a hash of its flags, and a worker thread's start puts back the flags bin/ferry set (the seal
      // workers also set --expose-gc): unless bin/ferry restores its own first, V8 rejected that cache.
      const copy = await makeTempDir('ferry-e2e-code-cache-');
      try {
        await copyCli(copy);
        const bin = join(copy, 'bin', 'ferry');
        const file = join(dir, 'cached.bin');
        await writeRandomFile(file, LARGE_FILE_BYTES);
        const args = ['send', file, `${server!.address}/cache/`, '--mkdir', '--threads', '2', ...common];
        const sent = spawnSync(process.execPath, [bin, ...args], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          env: ferryEnv({ FERRY_WRITE_CODE_CACHE: '1' }),
          timeout: 60_000,
        });
        assert.equal(sent.status, 0, sent.stderr);
        const run = probedFerry(['--version'], bin);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.cache, 'accepted');
      } finally {
        await removeTempDir(copy);
      }
    });
  });
});
