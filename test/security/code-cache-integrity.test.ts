// bin/ferry compiles the bundle from V8's code cache (dist/cli-bundle/main.cjs.cache) when the cache was made
// from the bundle's bytes. V8 itself checks only the source's length, its own version and flags, and in a
// release build not its data's checksum: a cache damaged on disk behind an intact header (a flipped bit, a
// torn write) aborted ferry in V8's deserializer (SIGTRAP), or could have run other bytecode than the
// bundle's. The cache now carries the SHA-256 of its data too, and a cache that does not match is not used
// (docs/SECURITY.md "Installing"). A copy of the built CLI with its cache damaged, run for real.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ferryEnv } from '../helpers/cli.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('a code cache damaged behind its intact header is not used: ferry compiles the bundle from its source and runs', async (t) => {
  const copy = await makeTempDir('ferry-code-cache-damaged-');
  t.after(() => removeTempDir(copy));
  await cp(join(REPO_ROOT, 'bin'), join(copy, 'bin'), { recursive: true });
  await cp(join(REPO_ROOT, 'package.json'), join(copy, 'package.json'));
  await symlink(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
  const bundle = join(copy, 'dist', 'cli-bundle');
  await cp(join(REPO_ROOT, 'dist', 'cli-bundle'), bundle, { recursive: true });
  const cachePath = join(bundle, 'main.cjs.cache');
  let cache: Buffer;
  try {
    cache = await readFile(cachePath);
  } catch {
    assert.fail('dist/cli-bundle/main.cjs.cache is missing: run `npm run build` first');
  }
  // Every 97th byte from 128 on: past whatever header the cache has (the bundle's digest, V8's own header).
  for (let at = 128; at < cache.length; at += 97) cache[at]! ^= 0x5a;
  await writeFile(cachePath, cache);
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const args of [['--version'], ['sync', '--help']]) {
    const run = spawnSync(process.execPath, [join(copy, 'bin', 'ferry'), ...args], {
      encoding: 'utf8',
      env: ferryEnv(),
    });
    assert.equal(
      run.signal,
      null,
      `ferry ${args.join(' ')} died by ${run.signal}: ${run.stderr.slice(0, 300)}`,
    );
    assert.equal(run.status, 0, run.stderr);
    if (args[0] === '--version') assert.equal(run.stdout.trim(), pkg.version);
    else assert.match(run.stdout, /sync/);
  }
});
