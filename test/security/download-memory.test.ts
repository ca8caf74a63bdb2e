// A download sealed on the server's worker threads keeps a window of blocks in flight (12 to 14 of about
// 2 MiB each), which a client that stops reading leaves allocated until its socket drains: about 25 MiB a
// session, 32 sessions a key, 1024 connections a server, and nothing bounded the sum (stop 34). Blocks beyond
// each stream's first now come from the server's download memory (`ServeOptions.downloadMemory`), per client
// and in total; past either a stream waits on its own blocks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { getFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

/** A block of a large file's download: 16 records of plaintext and 16 sealed (2,096,896 bytes), rounded up. */
const BLOCK = 2 * 1024 * 1024;
const MIB = 1024 * 1024;

async function serverWith(
  t: { after(fn: () => unknown): void },
  files: Record<string, number>,
  keys: KeyPair[],
  downloadMemory: { perClientBytes?: number; totalBytes: number },
): Promise<{ dir: string; server: FerryServer }> {
  const dir = await makeTempDir('ferry-download-memory-');
  t.after(() => removeTempDir(dir));
  await mkdir(join(dir, 'root'));
  for (const [name, size] of Object.entries(files)) {
    await writeFile(join(dir, 'root', name), 'head');
    await truncate(join(dir, 'root', name), size);
  }
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    threads: 2,
    downloadMemory,
    authorize: (k) =>
      keys.some((key) => key.publicKey.equals(k)) ? { permissions: PERMISSION_DOWNLOAD } : undefined,
    partialSweepIntervalMs: 0,
  });
  t.after(() => server.close());
  return { dir, server };
}

test('downloads on the server pool share one bound of blocks in flight', async (t) => {
  const key = generateKeyPair();
  const { dir, server } = await serverWith(t, { big: 32 * MIB }, [key], { totalBytes: 2 * BLOCK });
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
  assert.equal(got.length, 32 * MIB);
  assert.equal(got.subarray(0, 4).toString(), 'head');
  // Before: the stream's whole window (12 blocks at 2 threads) was sealing at once.
  assert.ok(server.peakSealingBlocks >= 1, 'sealed on the pool');
  assert.ok(server.peakSealingBlocks <= 3, `${server.peakSealingBlocks} blocks sealing at once`);
  assert.equal(server.downloadMemory.heldBytes, 0, 'all given back');
});

test('one client`s stalled downloads leave the others their share of the download memory', async (t) => {
  // Stop 35: the bound was shared by all, so one key's sessions (32) that stop reading could take all of it,
  // and every other client's download then went one block at a time. Now each client has a share.
  const hog = generateKeyPair();
  const other = generateKeyPair();
  const { dir, server } = await serverWith(t, { big: 64 * MIB }, [hog, other], {
    perClientBytes: 4 * BLOCK,
    totalBytes: 8 * BLOCK,
  });
  // Every connection stops reading the server after 1 MiB and keeps its sockets open: the stream's blocks
  // stay taken while the server waits for the socket to drain.
  const proxy = await FaultProxy.start({
    target: server.address,
    plan: { stall: { afterBytes: MIB, direction: 'serverToClient' } },
  });
  t.after(() => proxy.close());
  const download = (identity: KeyPair, local: string): Promise<unknown> =>
    getFiles({
      server: proxy.address,
      identity,
      verifyServer: () => undefined,
      retry: { retries: 0 },
      remotePaths: ['big'],
      localDir: join(dir, local),
      streams: 1,
    }).catch((err: unknown) => err);
  // Blocks are taken as a stream starts (its window is dispatched at once), so a stalled connection's are.
  const hogs = [download(hog, 'a'), download(hog, 'b')];
  await (
    await proxy.connection(0)
  ).stalled;
  await (
    await proxy.connection(1)
  ).stalled;
  const others = download(other, 'c');
  await (
    await proxy.connection(2)
  ).stalled;
  const memory = server.downloadMemory;
  const hogHeld = memory.heldBy(hog.publicKey.toString('hex'));
  const otherHeld = memory.heldBy(other.publicKey.toString('hex'));
  // Before: the hog held all 8 blocks and the other client's stream none beyond its first.
  assert.ok(hogHeld <= 4 * BLOCK, `the hog holds ${hogHeld} bytes, more than its share`);
  assert.ok(otherHeld >= 3 * BLOCK, `the other client holds ${otherHeld} bytes`);
  assert.ok(memory.peakBytes <= 8 * BLOCK, `${memory.peakBytes} bytes held at once`);
  // Cut: every stalled session ends and gives back what it held.
  let left = 3;
  const closed = new Promise<void>((resolve) =>
    server.events.on('session-closed', () => {
      if (--left === 0) resolve();
    }),
  );
  await proxy.close();
  await Promise.all([...hogs, others, closed]);
  for (let turns = 0; memory.heldBytes > 0 && turns < 1000; turns++) await nextTurn();
  assert.equal(memory.heldBytes, 0, 'all given back');
});
