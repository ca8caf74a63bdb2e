// A download sealed on the server's worker threads keeps a window of blocks in flight (12 to 14 of about
// 2 MiB each), which a client that stops reading leaves allocated until its socket drains: about 25 MiB a
// session, 32 sessions a key, 1024 connections a server, and nothing bounded the sum. Blocks beyond each
// stream's first now come from one bound the server's pool shares (`sharedSealBlocks`); past it a stream
// waits on its own blocks. Set to 2 here: one 32 MiB download keeps at most its first block and those 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { getFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

test('downloads on the server pool share one bound of blocks in flight', async (t) => {
  const dir = await makeTempDir('ferry-seal-blocks-');
  t.after(() => removeTempDir(dir));
  await mkdir(join(dir, 'root'));
  const big = join(dir, 'root', 'big');
  await writeFile(big, 'head');
  await truncate(big, 32 * 1024 * 1024);
  const key = generateKeyPair();
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    threads: 2,
    sharedSealBlocks: 2,
    authorize: (k) => (k.equals(key.publicKey) ? { permissions: PERMISSION_DOWNLOAD } : undefined),
    partialSweepIntervalMs: 0,
  });
  t.after(() => server.close());
  await getFiles({
    server: server.address,
    identity: key,
    verifyServer: () => undefined,
    retry: { retries: 0 },
    remotePaths: ['big'],
    localDir: join(dir, 'local'),
    streams: 1,
  });
  const got = await readFile(join(dir, 'local', 'big'));
  assert.equal(got.length, 32 * 1024 * 1024);
  assert.equal(got.subarray(0, 4).toString(), 'head');
  // Before: the stream's whole window (12 blocks at 2 threads) was sealing at once.
  assert.ok(server.peakSealingBlocks >= 1, 'sealed on the pool');
  assert.ok(server.peakSealingBlocks <= 3, `${server.peakSealingBlocks} blocks sealing at once`);
});
