// Dependency hygiene (docs/SECURITY.md): production dependencies run no install scripts (so nothing can
// download a binary at install time), the lockfile is committed and pins every package, and npm refuses a
// dependency that needs a newer Node than ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

const root = new URL('../../', import.meta.url);

interface LockPackage {
  version?: string;
  dev?: boolean;
  hasInstallScript?: boolean;
  resolved?: string;
  integrity?: string;
}

test('no production dependency has an install script, and every locked package has an integrity hash', async () => {
  const lock = JSON.parse(await readFile(new URL('package-lock.json', root), 'utf8')) as {
    packages: Record<string, LockPackage>;
  };
  const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
  assert.ok(installed.length > 0, 'the lockfile lists the installed packages');
  for (const [path, pkg] of installed) {
    if (!pkg.dev) assert.notEqual(pkg.hasInstallScript, true, `${path} runs an install script`);
    assert.ok(pkg.integrity, `${path} is pinned by an integrity hash`);
  }
});

test('the only install script in the tree (esbuild, a dev dependency of tsx) is not allowed to run', async () => {
  const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as {
    allowScripts?: Record<string, boolean>;
  };
  const lock = JSON.parse(await readFile(new URL('package-lock.json', root), 'utf8')) as {
    packages: Record<string, LockPackage>;
  };
  const withScripts = Object.entries(lock.packages)
    .filter(([, p]) => p.hasInstallScript)
    .map(([path]) => path.replace(/^.*node_modules\//, ''));
  for (const name of withScripts)
    assert.equal(pkg.allowScripts?.[name], false, `${name} may run its install script`);
});

test('.npmrc makes npm refuse dependencies whose engines exclude this Node', async () => {
  const npmrc = await readFile(new URL('.npmrc', root), 'utf8');
  assert.match(npmrc, /^engine-strict=true$/m);
});
