// The CLI that bin/ferry runs is a bundle (dist/cli-bundle/, scripts/bundle-cli.mjs; issues 14 and 16: module
// loading was most of a command's start-up). In a bundle, import.meta.url is the chunk's path, not the source
// file's: everything the sources find relative to it (the worker threads' entry files, package.json) must be
// where the chunks are, and the worker threads must still start. Run against the built CLI: `npm run build`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertExit, FERRY_BIN, runFerry, startServe, type ServeProcess } from '../helpers/cli.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(REPO_ROOT, 'dist', 'cli-bundle');
const SMALL_FILES = 40;
/** Several of the pool's blocks, so both worker threads of `--threads 2` get chunks to seal and open. */
const LARGE_FILE_BYTES = 3 * 1024 * 1024 + 12_345;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('the bundled CLI', () => {
  test('bin/ferry runs the bundle, and the bundle reaches nothing of dist/ outside its own folder', () => {
    assert.match(readFileSync(FERRY_BIN, 'utf8'), /await import\('\.\.\/dist\/cli-bundle\/main\.js'\)/);
    const files = readdirSync(BUNDLE).filter((f) => f.endsWith('.js'));
    for (const entry of ['main.js', 'seal-worker.js', 'small-file-worker.js'])
      assert.ok(files.includes(entry), `${entry} is in dist/cli-bundle/ (npm run build)`);
    // Relative imports stay inside the bundle (chunks); everything else is a package or a node: builtin.
    for (const file of files) {
      const code = readFileSync(join(BUNDLE, file), 'utf8');
      for (const [, specifier] of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s*)"([^"]+)"/gm)) {
        if (!specifier!.startsWith('.')) continue;
        assert.ok(
          specifier!.startsWith('./') && !specifier!.includes('/', 2),
          `${file} imports ${specifier}`,
        );
        assert.ok(existsSync(join(BUNDLE, specifier!)), `${file} imports ${specifier}, which exists`);
      }
    }
  });

  test('every file the sources find relative to import.meta.url is there relative to the bundle too', () => {
    // A source that resolves a path against import.meta.url, resolved as its code would from any chunk of
    // dist/cli-bundle/ (all chunks sit in that one folder). A new worker entry not added to
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
        '-p',
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
        '-p',
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
  });
});
