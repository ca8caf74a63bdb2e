// Finds a Chromium for the browser tests on any machine, without root and without a download outside the npm
// registry (issue 12): Debian's /usr/bin/chromium when it is installed (CI installs it, .ci/run), else the
// Chromium that the dev dependency @sparticuz/chromium ships inside its npm tarball. When neither is there the
// caller fails, saying why; it never skips.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where Debian's `chromium` package puts the browser. */
export const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/** The npm package whose tarball carries a brotli-compressed headless Chromium. */
const NPM_CHROMIUM = '@sparticuz/chromium';

/**
 * Arguments for either browser under playwright-core (ECOSYSTEM.md, "Traps seen here"). Measured here with
 * @sparticuz/chromium 147.0.0 (Chromium 147.0.7727): these and the package's own `args` both launch it;
 * --disable-gpu means the SwiftShader libraries it unpacks are never loaded.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A Chromium that playwright-core can launch. */
export interface ChromiumBinary {
  executablePath: string;
  /** Where it came from, for failure messages. */
  source: string;
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The system Chromium when present, else the one from @sparticuz/chromium, unpacked once into
 * `node_modules/.cache/` of this clone (private to the clone, unlike the package's default of /tmp, where
 * another version or another user's file could be found under the same name). `systemChromium` replaces
 * /usr/bin/chromium, so a test can take the npm path on a machine that has both.
 */
export async function findChromium(options: { systemChromium?: string } = {}): Promise<ChromiumBinary> {
  const system = options.systemChromium ?? SYSTEM_CHROMIUM;
  if (existsSync(system)) return { executablePath: system, source: system };
  let packageDir: string;
  try {
    // Resolves to build/cjs/index.cjs inside the package.
    packageDir = join(dirname(createRequire(import.meta.url).resolve(NPM_CHROMIUM)), '..', '..');
  } catch (err) {
    throw new Error(
      `no Chromium for the browser tests: ${system} is missing and the dev dependency ${NPM_CHROMIUM} ` +
        'is not installed; run `npm ci` (or install Debian chromium: apt-get install -y chromium)',
      { cause: err },
    );
  }
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  const cacheDir = join(REPO_ROOT, 'node_modules', '.cache', `ferry-chromium-${version}`);
  const executablePath = join(cacheDir, 'chromium');
  if (!existsSync(executablePath)) await unpackInto(cacheDir);
  return { executablePath, source: `${NPM_CHROMIUM} ${version} (${executablePath})` };
}

/**
 * Unpacks the package's browser with its own `executablePath()`, in a child whose TMPDIR is a fresh folder
 * (the package unpacks into `os.tmpdir()`), then renames that folder into place: a concurrent run either wins
 * the rename or finds the finished folder, and nobody ever sees a half-written binary.
 */
async function unpackInto(cacheDir: string): Promise<void> {
  const staging = `${cacheDir}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  const script = `
    import { mkdirSync } from 'node:fs';
    mkdirSync(process.env.TMPDIR, { recursive: true });
    const { default: chromium } = await import(${JSON.stringify(NPM_CHROMIUM)});
    process.stdout.write(await chromium.executablePath());
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, TMPDIR: staging },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0 || output.trim() !== join(staging, 'chromium')) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`unpacking ${NPM_CHROMIUM} failed (exit ${code}): ${output.trim()}`);
  }
  try {
    await rename(staging, cacheDir);
  } catch (err) {
    // Another run finished first: its folder is complete, ours is not needed.
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(join(cacheDir, 'chromium'))) throw err;
  }
}
