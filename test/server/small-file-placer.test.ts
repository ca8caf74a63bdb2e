// The small-file placer's thread (PROTOCOL.md §5.14) is started when a server on disk starts listening, so a
// fresh server's first batch does not wait for it (issue 14), and it never keeps a process alive by itself.
// Checked in child processes: whether a process exits is the point, and the placer is one per process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const serverModule = fileURLToPath(new URL('../../src/server/index.ts', import.meta.url));
const placerModule = fileURLToPath(new URL('../../src/server/small-file-placer.ts', import.meta.url));
const cryptoModule = fileURLToPath(new URL('../../src/crypto/index.ts', import.meta.url));

/** Runs `script` (an ES module body) under tsx; resolves with its exit code and stdout once it exits. */
async function runChild(script: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // The event this test waits on: a process the placer kept alive never exits, and the test times out.
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

test('a server on disk starts the placer thread when it listens, and the process still exits once the server is closed', async (t) => {
  const dir = await makeTempDir('ferry-placer-');
  t.after(() => removeTempDir(dir));
  const { code, out } = await runChild(`
    const { FerryServer } = await import(${JSON.stringify(serverModule)});
    const { SMALL_FILE_PLACER } = await import(${JSON.stringify(placerModule)});
    const { generateKeyPair } = await import(${JSON.stringify(cryptoModule)});
    const before = SMALL_FILE_PLACER.running;
    const server = await FerryServer.start({
      root: ${JSON.stringify(dir)},
      host: '127.0.0.1',
      port: 0,
      identity: generateKeyPair(),
      authorize: () => undefined,
      partialSweepIntervalMs: 0,
    });
    const after = SMALL_FILE_PLACER.running;
    await server.close();
    process.stdout.write(JSON.stringify({ before, after }));
  `);
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { before: false, after: true });
});

test('a placer thread that was only warmed, never given a batch, does not keep the process alive', async () => {
  const { code, out } = await runChild(`
    const { SMALL_FILE_PLACER } = await import(${JSON.stringify(placerModule)});
    SMALL_FILE_PLACER.warm();
    process.stdout.write(String(SMALL_FILE_PLACER.running));
  `);
  assert.equal(code, 0);
  assert.equal(out, 'true');
});
