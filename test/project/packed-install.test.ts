// `ferry` on the PATH (issue 12): what `npm pack` produces must become a working `ferry` through
// `npm install -g ./ferry-*.tgz`, with its compiled dist/, its bin, and no dev dependency at run time. The
// tarball bundles its production dependencies, so this install needs no registry (and runs offline here).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFerry, startServe, type CliResult, type ServeProcess } from '../helpers/cli.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILE_BYTES = 200_000;

interface PackageJson {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** This node first on PATH, so the `node` the installed bin's launcher execs and `npm` are the ones under test. */
const PATH_ENV = { PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter) };

/**
 * Runs npm as a user's shell would: without the `npm_*` variables that `npm test` exported to us (among them
 * `npm_config_prefix` and this checkout's `npm_config_local_prefix`).
 */
async function runNpm(args: readonly string[], cwd: string): Promise<CliResult> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
  const child = spawn('npm', args, {
    cwd,
    env: { ...env, ...PATH_ENV },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** The packages `npm ci --omit=dev` installs, by their node_modules path: what the tarball must bundle. */
async function productionPackages(): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; optional?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(
      ([path, entry]) => path.startsWith('node_modules/') && entry.dev !== true && entry.optional !== true,
    )
    .map(([path]) => path);
}

/**
 * Why npm pack left bundled packages out, when the checkout's node_modules is laid out so that npm's tree
 * loader (arborist) misreads it. Both were found in real checkouts: a git worktree sharing another checkout's
 * node_modules through a symlink (npm then packs the linked top-level packages but none of their own
 * dependencies), and a `node_modules/node_modules` link back to node_modules itself, left by running
 * `ln -s .../node_modules node_modules` a second time (npm then sees every dependency as missing).
 */
async function nodeModulesLayoutProblem(): Promise<string | undefined> {
  const nodeModules = join(REPO_ROOT, 'node_modules');
  const stats = await lstat(nodeModules).catch(() => undefined);
  if (stats === undefined) return `${nodeModules} does not exist: run \`npm ci\` first`;
  if (stats.isSymbolicLink())
    return (
      `${nodeModules} is a symlink (to ${await readlink(nodeModules)}): npm pack bundles a linked ` +
      "node_modules' top-level packages but not their own dependencies; give this checkout a node_modules " +
      'of its own (`rm node_modules && npm ci`)'
    );
  const nested = join(nodeModules, 'node_modules');
  if ((await lstat(nested).catch(() => undefined))?.isSymbolicLink())
    return (
      `${nested} is a symlink (to ${await readlink(nested)}): npm's tree loader then finds none of the ` +
      `dependencies, so npm pack bundles none; remove it (\`rm ${nested}\`)`
    );
  return undefined;
}

function assertOk(result: CliResult, what: string): void {
  assert.equal(result.code, 0, `${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
}

let dir: string;
let pkg: PackageJson;
let packedFiles: string[];
let installedBin: string;
let installedPackage: string;
let server: ServeProcess | undefined;

before(async () => {
  dir = await makeTempDir('ferry-pack-');
  pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
  // --ignore-scripts: dist/ is already built (npm test builds first), and rebuilding it here would rewrite
  // files that concurrently running tests are loading. A user's `npm pack` builds through `prepack`.
  const packed = await runNpm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO_ROOT);
  assertOk(packed, 'npm pack');
  const [report] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  packedFiles = report.files.map((f) => f.path);
  // A tarball missing a bundled package fails only later, at `require` in the installed ferry, with a message
  // that says nothing about the checkout; say here which packages are missing and, when known, why.
  const missing = (await productionPackages()).filter(
    (path) => !packedFiles.includes(`${path}/package.json`),
  );
  if (missing.length > 0) {
    const problem = (await nodeModulesLayoutProblem()) ?? 'no known cause in the layout of node_modules';
    assert.fail(
      `npm pack in ${REPO_ROOT} left out ${missing.length} of the production packages in ` +
        `package-lock.json (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}): ${problem}`,
    );
  }
  // Into a temporary prefix, from a folder outside the checkout (so its .npmrc plays no part), offline.
  const prefix = join(dir, 'prefix');
  const installed = await runNpm(
    [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--offline',
      '--no-audit',
      '--no-fund',
      join(dir, report.filename),
    ],
    dir,
  );
  assertOk(installed, 'npm install -g');
  installedBin = join(prefix, 'bin', 'ferry');
  installedPackage = join(prefix, 'lib', 'node_modules', pkg.name);
});

after(async () => {
  await server?.stop();
  await removeTempDir(dir);
});

test('npm pack ships the compiled dist/, the bin and the bundled runtime dependencies, and no sources or tests', () => {
  // dist/cli-bundle/: the bundled CLI bin/ferry runs, its code cache, and its worker threads' entry files
  // (scripts/bundle-cli.mjs). bin/package.json makes bin/ferry a CommonJS script (see its first lines).
  const bundle = ['main.cjs', 'main.cjs.cache', 'seal-worker.js', 'small-file-worker.js'].map(
    (f) => `dist/cli-bundle/${f}`,
  );
  for (const file of [
    'bin/ferry',
    'bin/package.json',
    ...bundle,
    'dist/index.js',
    'dist/index.d.ts',
    'package.json',
  ])
    assert.ok(packedFiles.includes(file), `${file} is in the tarball`);
  for (const dependency of Object.keys(pkg.dependencies))
    assert.ok(
      packedFiles.some((f) => f.startsWith(`node_modules/${dependency}/`)),
      `${dependency} is bundled`,
    );
  const stray = packedFiles.filter(
    (f) => /^(src|test|bench|scripts|\.ci)\//.test(f) || f.endsWith('.map') || f.startsWith('tsconfig'),
  );
  assert.deepEqual(stray, [], 'sources, tests, source maps and build configs stay out of the tarball');
  const devInTarball = Object.keys(pkg.devDependencies).filter((d) =>
    packedFiles.some((f) => f.startsWith(`node_modules/${d}/`)),
  );
  assert.deepEqual(devInTarball, [], 'no dev dependency is packed');
});

test('npm install -g of the tarball puts a `ferry` on the PATH that runs with no dev dependency', async () => {
  assert.equal(await readlink(installedBin), join('..', 'lib', 'node_modules', pkg.name, 'bin', 'ferry'));
  const version = await runFerry(['--version'], { bin: installedBin, env: PATH_ENV });
  assertOk(version, 'ferry --version');
  assert.equal(version.stdout.trim(), pkg.version);
  // Nothing of the toolchain came along: the installed ferry runs its compiled dist/ on its bundled deps.
  for (const devDependency of Object.keys(pkg.devDependencies))
    assert.ok(
      !existsSync(join(installedPackage, 'node_modules', devDependency)),
      `${devDependency} was installed`,
    );
  assert.ok(!existsSync(join(installedPackage, 'src')), 'the TypeScript sources were installed');
});

test('the installed ferry serves, and sends a file to itself over loopback on worker threads, verified', async () => {
  const cli = { bin: installedBin, env: PATH_ENV };
  const serverHome = join(dir, 'server-home');
  const clientHome = join(dir, 'client-home');
  const root = join(dir, 'root');
  const clientKey = await runFerry(['--home', clientHome, 'keygen'], cli);
  assertOk(clientKey, 'keygen (client)');
  assertOk(await runFerry(['--home', serverHome, 'keygen'], cli), 'keygen (server)');
  const allowed = await runFerry(
    ['--home', serverHome, 'allow', clientKey.stdout.trim(), '--name', 'laptop'],
    cli,
  );
  assertOk(allowed, 'allow');
  server = await startServe(['--home', serverHome, '--root', root], cli);
  const file = join(dir, 'report.bin');
  const digest = await writeRandomFile(file, FILE_BYTES);
  const sent = await runFerry(
    // --threads 2: the seal pool's workers start from the installed bundle, with no tsx to fall back on.
    ['--home', clientHome, 'send', file, server.address, '--expect', server.id, '--threads', '2'],
    cli,
  );
  assertOk(sent, 'ferry send');
  assert.equal(await sha256File(join(root, 'report.bin')), digest);
});
