// docs/SECURITY.md: run under `--secure-heap`, the identity's X25519 private key lives in OpenSSL's secure
// heap. Checked in a child process, since the flag only takes effect at start-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const homeModule = fileURLToPath(new URL('../../src/home/index.ts', import.meta.url));

test('under --secure-heap a loaded identity key sits in the secure heap', async (t) => {
  const home = await makeTempDir('ferry-secure-heap-');
  t.after(() => removeTempDir(home));
  const script = `
    import { secureHeapUsed } from 'node:crypto';
    const { createIdentity, loadIdentity } = await import(${JSON.stringify(homeModule)});
    const before = secureHeapUsed().used;
    await createIdentity(${JSON.stringify(home)});
    const key = await loadIdentity(${JSON.stringify(home)});
    process.stdout.write(JSON.stringify({ before, after: secureHeapUsed().used, total: secureHeapUsed().total, ok: !!key }));
  `;
  const child = spawn(
    process.execPath,
    ['--secure-heap=65536', '--import', 'tsx', '--input-type=module', '-e', script],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
  const result = JSON.parse(out) as { before: number; after: number; total: number; ok: boolean };
  assert.equal(result.total, 65536);
  assert.ok(result.ok);
  assert.ok(result.after > result.before, `secure heap use ${result.before} -> ${result.after}`);
});
