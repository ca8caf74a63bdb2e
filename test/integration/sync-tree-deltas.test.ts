// A sync of many changed files (issue 16), through the library against a real server on loopback: with
// `deltaSessions` the deltas travel on extra sessions beside the primary, side by side; every directory
// still gets its mtime after the files renamed into it, so the mirror equals the source and a re-sync has
// nothing to do; and a lane's connection cut mid-delta is retried like the primary's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../../src/crypto/index.js';
import { syncTree, type ConnectOptions, type SyncEvent } from '../../src/client/index.js';
import { WHOLE_CHANGED_MAX_BYTES } from '../../src/client/sync-up.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FaultProxy, type FaultPlan } from '../helpers/fault-proxy.js';
import { assertSameTree, snapshotTree } from '../helpers/tree-snapshot.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const KIB = 1024;
const DIRS = ['a', 'b', 'c'];
const FILES_PER_DIR = 3;
const CHANGED = 7;
/** Seven deltas: the primary and each of two extra sessions take two or three. */
const DELTA_SESSIONS = 2;

/** Seconds with a fraction that survives libuv's microsecond truncation exactly. */
function secondsOf(mtimeMs: number): number {
  return (mtimeMs + 0.0004) / 1000;
}

/** A tree of DIRS x FILES_PER_DIR files of 48 KiB, every entry with its own mtime; returns the file paths. */
async function writeTree(src: string): Promise<string[]> {
  const files: string[] = [];
  let when = 1_600_000_000_000;
  for (const d of DIRS) {
    await mkdir(join(src, d), { recursive: true });
    for (let i = 0; i < FILES_PER_DIR; i++) {
      const path = join(src, d, `f${i}.bin`);
      await writeFile(path, randomBytes(48 * KIB));
      await utimes(path, secondsOf((when += 1111)), secondsOf(when));
      files.push(path);
    }
  }
  for (const d of [...DIRS.map((d) => join(src, d)), src])
    await utimes(d, secondsOf((when += 1111)), secondsOf(when));
  return files;
}

/** Rewrites 300 bytes in the middle of each file, in place: the directories keep their mtimes. */
async function changeFiles(files: readonly string[]): Promise<void> {
  for (const path of files) {
    const handle = await open(path, 'r+');
    try {
      await handle.write(randomBytes(300), 0, 300, 20 * KIB);
    } finally {
      await handle.close();
    }
  }
}

async function startRig(
  t: Parameters<typeof startTempDirServer>[0],
  plan?: (index: number) => FaultPlan | undefined,
): Promise<{ dir: string; root: string; connect: ConnectOptions; proxy: FaultProxy }> {
  const client = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-sync-deltas-', {
    authorize: (key) =>
      key.equals(client.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
  });
  const proxy = await FaultProxy.start({ target: server.address, ...(plan ? { plan } : {}) });
  t.after(() => proxy.close());
  const connect: ConnectOptions = {
    server: proxy.address,
    identity: client,
    verifyServer: () => undefined,
    retry: { retries: 2, sleep: () => Promise.resolve(), random: () => 0 },
  };
  return { dir, root: server.root, connect, proxy };
}

test('syncTree sends many changed files as deltas on extra sessions, then gives their directories their mtimes', async (t) => {
  const { dir, root, connect, proxy } = await startRig(t);
  const src = join(dir, 'src');
  const files = await writeTree(src);
  const sync = async (): Promise<{ events: SyncEvent[]; sessions: number }> => {
    const events: SyncEvent[] = [];
    const mark = proxy.connections.length;
    await syncTree({
      ...connect,
      direction: 'upload',
      localDir: src,
      remotePath: 'mirror',
      deltaSessions: DELTA_SESSIONS,
      onEvent: (e) => events.push(e),
    });
    return { events, sessions: proxy.connections.length - mark };
  };
  const first = await sync();
  assert.equal(first.sessions, 1, 'new files need no delta: the primary alone');

  await changeFiles(files.slice(0, CHANGED));
  const changed = await sync();
  assert.equal(changed.sessions, 1 + DELTA_SESSIONS);
  const deltas = changed.events.filter((e) => e.type === 'transfer-delta');
  assert.equal(deltas.length, CHANGED);
  for (const d of deltas) assert.ok(d.type === 'transfer-delta' && d.literalBytes < 16 * KIB, d.remotePath);
  // The mirror's directories, the top too, have the source's mtimes: each was given it after the renames.
  const mirror = await snapshotTree(join(root, 'mirror'), { includeTop: true });
  assertSameTree(mirror, await snapshotTree(src, { includeTop: true }), 'mirror');

  const again = await sync();
  const done = again.events.filter((e) => e.type === 'sync-action' && e.action !== 'skip');
  assert.deepEqual(done, [], 'nothing left to do');
  assert.equal(again.sessions, 1);
});

test("syncTree's deltas complete after a delta session's connection is cut in the middle", async (t) => {
  // Connection 0 is the first sync's, 1 the second's primary, 2 its first delta session: cut that one once
  // it has sent its handshake and part of its deltas.
  const CUT_AFTER_BYTES = 2500;
  const { dir, root, connect, proxy } = await startRig(t, (index) =>
    index === 2 ? { cut: { afterBytes: CUT_AFTER_BYTES } } : undefined,
  );
  const src = join(dir, 'src');
  const files = await writeTree(src);
  await syncTree({ ...connect, direction: 'upload', localDir: src, remotePath: 'mirror' });
  await changeFiles(files.slice(0, CHANGED));
  const events: SyncEvent[] = [];
  const summary = await syncTree({
    ...connect,
    direction: 'upload',
    localDir: src,
    remotePath: 'mirror',
    deltaSessions: DELTA_SESSIONS,
    onEvent: (e) => events.push(e),
  });
  assert.ok(proxy.connections[2]!.bytes.clientToServer >= CUT_AFTER_BYTES, 'the lane was cut');
  assert.ok(
    events.some((e) => e.type === 'retrying'),
    'the run was retried',
  );
  assert.equal(summary.filesChanged, CHANGED);
  assertSameTree(
    await snapshotTree(join(root, 'mirror'), { includeTop: true }),
    await snapshotTree(src, { includeTop: true }),
    'mirror',
  );
});

test('syncTree sends a changed file of at most WHOLE_CHANGED_MAX_BYTES whole, in a batch on the primary, and a larger one as a delta', async (t) => {
  const { dir, root, connect, proxy } = await startRig(t);
  const src = join(dir, 'src');
  await mkdir(src);
  const small = join(src, 'small.txt');
  const large = join(src, 'large.bin');
  await writeFile(small, randomBytes(WHOLE_CHANGED_MAX_BYTES));
  await writeFile(large, randomBytes(WHOLE_CHANGED_MAX_BYTES + 1));
  await syncTree({ ...connect, direction: 'upload', localDir: src, remotePath: 'mirror' });
  for (const [path, when] of [
    [small, 1_700_000_000_000],
    [large, 1_700_000_001_000],
  ] as const) {
    const data = randomBytes(WHOLE_CHANGED_MAX_BYTES + (path === large ? 1 : 0));
    (await readFile(path)).copy(data, 0, 0, 2048); // the first half kept
    await writeFile(path, data);
    await utimes(path, secondsOf(when), secondsOf(when));
  }
  const events: SyncEvent[] = [];
  const mark = proxy.connections.length;
  const summary = await syncTree({
    ...connect,
    direction: 'upload',
    localDir: src,
    remotePath: 'mirror',
    deltaSessions: DELTA_SESSIONS,
    onEvent: (e) => events.push(e),
  });
  assert.equal(summary.filesChanged, 2);
  const finished = (path: string): number | undefined => {
    const e = events.find((e) => e.type === 'transfer-finished' && e.file === path);
    return e?.type === 'transfer-finished' ? e.transferredBytes : undefined;
  };
  assert.equal(finished(small), WHOLE_CHANGED_MAX_BYTES, 'the small one whole');
  const deltas = events.flatMap((e) => (e.type === 'transfer-delta' ? [e.remotePath] : []));
  assert.deepEqual(deltas, ['mirror/large.bin'], 'the larger one alone as a delta');
  assert.equal(proxy.connections.length - mark, 1, 'one delta: no extra session for it');
  assertSameTree(await snapshotTree(join(root, 'mirror')), await snapshotTree(src), 'mirror');
});

test('syncTree on one session gives each directory its mtime once the files below it are placed, the others still in flight', async (t) => {
  const { dir, root, connect } = await startRig(t);
  const src = join(dir, 'src');
  await writeTree(src);
  const sync = async (): Promise<SyncEvent[]> => {
    const events: SyncEvent[] = [];
    await syncTree({
      ...connect,
      direction: 'upload',
      localDir: src,
      remotePath: 'mirror',
      onEvent: (e) => events.push(e),
    });
    return events;
  };
  await sync();
  // One changed file in each directory: each directory's PUT_DIR waits for its own file's PUT_DONE alone
  // (issue 16), and must still come after it, or the file's rename moves the mtime just set.
  await changeFiles(DIRS.map((d) => join(src, d, 'f1.bin')));
  const events = await sync();
  assert.equal(events.filter((e) => e.type === 'transfer-delta').length, DIRS.length);
  const mirror = await snapshotTree(join(root, 'mirror'), { includeTop: true });
  assertSameTree(mirror, await snapshotTree(src, { includeTop: true }), 'mirror');
  const again = await sync();
  assert.deepEqual(
    again.filter((e) => e.type === 'sync-action' && e.action !== 'skip'),
    [],
    'nothing left to do',
  );
});
