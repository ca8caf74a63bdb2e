// How a sync's files travel (issue 16), through the library against a real server on loopback: a first
// sync's small files go in batches (PROTOCOL.md §5.14) even where the walk interleaves them with large ones,
// and a file the caller knows to be new (`replaces: false`) is offered without DELTA, so it costs no round
// trip before its data, while a file that replaces one still travels as a delta (§5.15).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  runUploadJobs,
  syncTree,
  type ConnectOptions,
  type SyncEvent,
  type TransferEvent,
} from '../../src/client/index.js';
import { MAX_BATCH_FILE_BYTES, PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { assertSameTree, snapshotTree } from '../helpers/tree-snapshot.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const KIB = 1024;

async function startRig(
  t: Parameters<typeof startTempDirServer>[0],
): Promise<{ dir: string; root: string; connect: ConnectOptions }> {
  const client = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-sync-first-', {
    authorize: (key) =>
      key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
  });
  const connect: ConnectOptions = {
    server: server.address,
    identity: client,
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
  };
  return { dir, root: server.root, connect };
}

test('a first syncTree sends small files in one batch even where the walk interleaves them with large ones', async (t) => {
  const { dir, root, connect } = await startRig(t);
  // In name order (the walk's) a file of 40 KiB, above the 32 KiB of the first draft of §5.14 and under
  // MAX_BATCH_FILE_BYTES, alternates with one too large for a batch; the other tree holds the large ones alone.
  const FILES = 16;
  assert.ok(40 * KIB <= MAX_BATCH_FILE_BYTES && 70 * KIB > MAX_BATCH_FILE_BYTES);
  const mixed = join(dir, 'mixed');
  const large = join(dir, 'large');
  await mkdir(mixed);
  await mkdir(large);
  for (let i = 0; i < FILES; i++) {
    const name = `f${String(i).padStart(2, '0')}`;
    await writeFile(join(mixed, `${name}a.bin`), randomBytes(40 * KIB));
    const data = randomBytes(70 * KIB);
    await writeFile(join(mixed, `${name}b.bin`), data);
    await writeFile(join(large, `${name}b.bin`), data);
  }
  const proxy = await FaultProxy.start({ target: connect.server });
  t.after(() => proxy.close());
  const answers: number[] = [];
  for (const src of [mixed, large]) {
    const events: SyncEvent[] = [];
    const mark = proxy.connections.length;
    const summary = await syncTree({
      ...connect,
      server: proxy.address,
      direction: 'upload',
      localDir: src,
      remotePath: src === mixed ? 'mixed' : 'large',
      onEvent: (e) => events.push(e),
    });
    const files = src === mixed ? 2 * FILES : FILES;
    assert.equal(summary.filesNew, files);
    assert.equal(events.filter((e) => e.type === 'transfer-finished').length, files);
    assertSameTree(
      await snapshotTree(join(root, src === mixed ? 'mixed' : 'large')),
      await snapshotTree(src),
      src,
    );
    assert.equal(proxy.connections.length, mark + 1);
    answers.push(proxy.connections[mark]!.frames.serverToClient);
  }
  // The small files share one BATCH_DONE; sent one by one (or in batches of one between the large ones)
  // each would take at least its own answer.
  const extra = answers[0]! - answers[1]!;
  assert.ok(extra < FILES / 2, `the small files took ${extra} more records from the server`);
});

test('runUploadJobs offers a file with `replaces: false` whole, without DELTA, and one with `replaces: true` as a delta', async (t) => {
  const { dir, connect } = await startRig(t);
  const old = randomBytes(256 * KIB);
  const changed = Buffer.from(old);
  randomBytes(300).copy(changed, 100 * KIB);
  const local = join(dir, 'changed.bin');
  await writeFile(local, changed);
  for (const [name, replaces] of [
    ['whole.bin', false],
    ['delta.bin', true],
  ] as const) {
    // The server first holds the old content under the name, so a delta is possible for both.
    const setup = join(dir, name);
    await writeFile(setup, old);
    await runUploadJobs([{ kind: 'file', localPath: setup, remotePath: name }], { ...connect, files: [] });
    const events: TransferEvent[] = [];
    await runUploadJobs(
      [{ kind: 'file', localPath: local, remotePath: name, size: changed.length, replaces }],
      {
        ...connect,
        files: [],
        overwrite: true,
        onEvent: (e) => events.push(e),
      },
    );
    const finished = events.find((e) => e.type === 'transfer-finished');
    assert.ok(finished?.type === 'transfer-finished', name);
    const delta = events.find((e) => e.type === 'transfer-delta');
    if (replaces) {
      assert.ok(delta?.type === 'transfer-delta', `${name}: sent as a delta`);
      assert.ok(delta.literalBytes < changed.length / 2, `${name}: ${delta.literalBytes} literal bytes`);
    } else {
      assert.equal(delta, undefined, `${name}: no delta asked`);
      assert.equal(finished.transferredBytes, changed.length, `${name}: sent whole`);
    }
  }
});
