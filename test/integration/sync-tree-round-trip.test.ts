// syncTree through the library on loopback, both ways (issue 16): the mirror equals the source by content and
// metadata (modes, mtimes to the millisecond, links as links, empty directories, the top directory too), the
// event stream is the one sendTree and getFiles emit (plus `sync-action`), and a re-sync of an unchanged tree
// starts no transfer at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  sendTree,
  syncTree,
  type ConnectOptions,
  type SyncEvent,
  type TransferEvent,
} from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { assertSameTree, snapshotTree } from '../helpers/tree-snapshot.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const CHUNK_BYTES = 64 * 1024;

/** Seconds with a fraction that survives libuv's microsecond truncation exactly. */
function secondsOf(mtimeMs: number): number {
  return (mtimeMs + 0.0004) / 1000;
}

test('syncTree mirrors a tree up and back with its metadata, emits the send/get event stream, and re-syncs nothing', async (t) => {
  const client = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-sync-rt-', {
    authorize: (key) =>
      key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
  });
  const connect: ConnectOptions = {
    server: server.address,
    identity: client,
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
  };
  const src = join(dir, 'src');
  await mkdir(join(src, 'docs', 'empty'), { recursive: true });
  await writeFile(join(src, 'docs', 'a.txt'), 'a\n');
  await writeFile(join(src, 'big.bin'), randomBytes(5 * CHUNK_BYTES + 777));
  await writeFile(join(src, 'script.sh'), '#!/bin/sh\n');
  await chmod(join(src, 'script.sh'), 0o755);
  await chmod(join(src, 'docs', 'a.txt'), 0o600);
  await symlink('docs/a.txt', join(src, 'latest'));
  for (const [path, when] of [
    ['docs/a.txt', 1_600_000_000_123],
    ['big.bin', 1_600_000_001_456],
    ['script.sh', 1_600_000_002_789],
    ['docs/empty', 1_600_000_003_001],
    ['docs', 1_600_000_004_002],
    ['', 1_600_000_005_003],
  ] as const)
    await utimes(join(src, path), secondsOf(when), secondsOf(when));
  const expected = await snapshotTree(src, { includeTop: true });

  const upEvents: SyncEvent[] = [];
  const up = await syncTree({
    ...connect,
    direction: 'upload',
    localDir: src,
    remotePath: 'mirror',
    chunkBytes: CHUNK_BYTES,
    onEvent: (e) => upEvents.push(e),
  });
  assert.equal(up.filesSent, 3);
  assert.equal(up.filesNew, 3);
  assertSameTree(await snapshotTree(join(server.root, 'mirror'), { includeTop: true }), expected, 'up');

  // The same tree by sendTree: the same kinds of events, as many files and entries.
  const sendEvents: TransferEvent[] = [];
  await sendTree({
    ...connect,
    dirs: [src],
    remoteDir: '',
    chunkBytes: CHUNK_BYTES,
    onEvent: (e) => sendEvents.push(e),
  });
  const typesOf = (events: readonly { type: string }[]): string[] =>
    [...new Set(events.map((e) => e.type))].filter((type) => type !== 'sync-action').sort();
  assert.deepEqual(typesOf(upEvents), typesOf(sendEvents));
  const count = (events: readonly { type: string }[], type: string): number =>
    events.filter((e) => e.type === type).length;
  for (const type of ['transfer-finished', 'entry-created'])
    assert.equal(count(upEvents, type), count(sendEvents, type), type);
  assert.equal(count(upEvents, 'sync-action'), expected.size, 'one action per entry, the top included');

  const back = join(dir, 'back');
  const downEvents: SyncEvent[] = [];
  const down = await syncTree({
    ...connect,
    direction: 'download',
    localDir: back,
    remotePath: 'mirror',
    chunkBytes: CHUNK_BYTES,
    onEvent: (e) => downEvents.push(e),
  });
  assert.equal(down.filesSent, 3);
  assertSameTree(await snapshotTree(back, { includeTop: true }), expected, 'back');
  assert.equal(count(downEvents, 'transfer-finished'), 3);

  for (const direction of ['upload', 'download'] as const) {
    const events: SyncEvent[] = [];
    const again = await syncTree({
      ...connect,
      direction,
      localDir: direction === 'upload' ? src : back,
      remotePath: 'mirror',
      chunkBytes: CHUNK_BYTES,
      onEvent: (e) => events.push(e),
    });
    assert.equal(again.filesSent, 0, direction);
    assert.equal(again.filesSkipped, 3, direction);
    assert.equal(again.dataBytes, 0, direction);
    assert.equal(count(events, 'transfer-started'), 0, `${direction}: no file was offered or requested`);
    // Every directory, the top too, already has its mode and mtime: none is given them again (no PUT_DIR).
    const dirs = events.filter((e) => e.type === 'sync-action' && e.action === 'dir');
    assert.deepEqual(dirs, [], `${direction}: no directory touched`);
    assert.equal(count(events, 'entry-created'), 0, direction);
  }
  assertSameTree(await snapshotTree(back, { includeTop: true }), expected, 'back after the re-sync');
  assertSameTree(
    await snapshotTree(join(server.root, 'mirror'), { includeTop: true }),
    expected,
    'mirror after the re-sync',
  );
});
