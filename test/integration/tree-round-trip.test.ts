// Directory trees both ways through the library on loopback (PROTOCOL.md §5.10-§5.12): sendTree, then
// getFiles -r, then the copy is compared with the original by content hashes AND metadata (mode bits, file,
// directory and link mtimes to the millisecond, empty directories, links recreated as links). Also: many
// small files are pipelined over one TCP connection both ways (counted at a proxy).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { FerryServer } from '../../src/server/index.js';
import { getFiles, sendTree, type ConnectOptions } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { assertSameTree, snapshotTree } from '../helpers/tree-snapshot.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const CHUNK_BYTES = 64 * 1024;
/** Larger than several chunks, and not a multiple of the chunk size. */
const BIG_FILE_BYTES = 5 * CHUNK_BYTES + 777;

/** Unusual but legal names (PROTOCOL.md §7.1). */
const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';
const LONG_ASCII = `${'n'.repeat(251)}.txt`; // 255 bytes
const LONG_UTF8 = `${'\u00e9'.repeat(127)}x`; // 255 bytes

interface Rig {
  dir: string;
  root: string;
  server: FerryServer;
  connect: ConnectOptions;
}

async function startRig(t: TestContext, clientIdentity: KeyPair = generateKeyPair()): Promise<Rig> {
  const { dir, server } = await startTempDirServer(t, 'ferry-tree-rt-', {
    authorize: (key) =>
      key.equals(clientIdentity.publicKey)
        ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
        : undefined,
    durableBatchBytes: CHUNK_BYTES,
  });
  return {
    dir,
    root: server.root,
    server,
    connect: {
      server: server.address,
      identity: clientIdentity,
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    },
  };
}

async function setTimes(path: string, mtimeMs: number, isLink = false): Promise<void> {
  // Seconds as a number with a fraction that survives libuv's microsecond truncation exactly.
  const when = (mtimeMs + 0.0004) / 1000;
  if (isLink) {
    const { lutimes } = await import('node:fs/promises');
    await lutimes(path, when, when);
  } else await utimes(path, when, when);
}

/**
 * Builds the test tree under `top`: nested and empty folders, odd names, zero-byte and multi-chunk files,
 * links inside the tree, and chosen modes and mtimes (directories last, so writing into them does not move
 * their mtime).
 */
async function buildTree(top: string, random: SeededRandom): Promise<void> {
  const dirs = [
    '',
    'nested',
    'nested/deeper',
    'nested/deeper/deepest',
    'empty',
    'nested/empty-inside',
    'with space',
  ];
  for (const d of dirs) await mkdir(join(top, d), { recursive: true });
  const files: Array<[string, number, number]> = [
    ['zero-bytes', 0, 0o644],
    ['big.bin', BIG_FILE_BYTES, 0o600],
    ['nested/deeper/deepest/leaf.txt', 1000, 0o640],
    ['nested/run.sh', 300, 0o755],
    ['with space/file with spaces.txt', 10, 0o644],
    [`${NFC}.txt`, 11, 0o644],
    [`${NFD}.txt`, 12, 0o644],
    ['-rf', 13, 0o644],
    ['--help', 14, 0o644],
    [LONG_ASCII, 15, 0o644],
    [`nested/${LONG_UTF8}`, 16, 0o644],
    ['\u65e5\u672c\u8a9e \ud83d\udea2.txt', 17, 0o644],
    ['exactly-one-chunk', CHUNK_BYTES, 0o644],
  ];
  let mtime = 1_600_000_000_123;
  for (const [path, size, mode] of files) {
    await writeFile(join(top, path), random.bytes(size));
    await chmod(join(top, path), mode);
    await setTimes(join(top, path), (mtime += 1_001_001));
  }
  await symlink('deeper/deepest/leaf.txt', join(top, 'nested', 'leaf-link'));
  await symlink('../big.bin', join(top, 'nested', 'up-link'));
  await symlink('nested/deeper', join(top, 'dir-link'));
  await setTimes(join(top, 'nested', 'leaf-link'), (mtime += 1_001_001), true);
  await setTimes(join(top, 'nested', 'up-link'), (mtime += 1_001_001), true);
  await setTimes(join(top, 'dir-link'), (mtime += 1_001_001), true);
  const dirModes: Record<string, number> = { '': 0o750, nested: 0o750, 'nested/deeper': 0o711, empty: 0o700 };
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    await chmod(join(top, d), dirModes[d] ?? 0o755);
    await setTimes(join(top, d), (mtime += 1_001_001));
  }
}

test('a tree sent with sendTree and fetched back with getFiles -r is identical in content, modes, mtimes, empty directories and links', async (t) => {
  const { dir, root, connect } = await startRig(t);
  const source = join(dir, 'local', 'tree');
  await buildTree(source, new SeededRandom(4));
  const original = await snapshotTree(source, { includeTop: true });

  const skipped: string[] = [];
  await sendTree({
    ...connect,
    dirs: [source],
    remoteDir: 'up',
    chunkBytes: CHUNK_BYTES,
    onSkip: (path) => skipped.push(path),
  });
  assert.deepEqual(skipped, [], 'every entry of the tree can travel');
  assertSameTree(
    await snapshotTree(join(root, 'up', 'tree'), { includeTop: true }),
    original,
    'the tree on the server',
  );

  const dest = join(dir, 'download');
  const results = await getFiles({
    ...connect,
    remotePaths: ['up/tree'],
    localDir: dest,
    recursive: true,
    chunkBytes: CHUNK_BYTES,
  });
  assert.equal(results.length, 13, 'one result per file');
  assert.deepEqual(await readdir(dest), ['tree'], 'nothing but the tree lands in the destination');
  assertSameTree(
    await snapshotTree(join(dest, 'tree'), { includeTop: true }),
    original,
    'the tree after a round trip',
  );
});

test('a file mtime survives a round trip to the millisecond whatever its sub-millisecond part', async (t) => {
  // utimes() with whole milliseconds can store x.999999 ms (libuv keeps microseconds, a double is not exact),
  // which reads back one millisecond early; each hop must not lose a millisecond.
  const { dir, root, connect } = await startRig(t);
  const source = join(dir, 'local', 'times');
  await mkdir(source, { recursive: true });
  const mtimes = [1_700_958_697_343, 1_700_472_000_816, 1_700_761_324_204, 1_600_000_000_001];
  for (const [i, ms] of mtimes.entries()) {
    await writeFile(join(source, `f${i}`), `file ${i}`);
    await setTimes(join(source, `f${i}`), ms);
  }
  await sendTree({ ...connect, dirs: [source], chunkBytes: CHUNK_BYTES });
  const dest = join(dir, 'download');
  await getFiles({
    ...connect,
    remotePaths: ['times'],
    localDir: dest,
    recursive: true,
    chunkBytes: CHUNK_BYTES,
  });
  for (const [i, ms] of mtimes.entries()) {
    const onServer = Math.trunc((await lstat(join(root, 'times', `f${i}`))).mtimeMs);
    const local = Math.trunc((await lstat(join(dest, 'times', `f${i}`))).mtimeMs);
    assert.deepEqual({ onServer, local }, { onServer: ms, local: ms }, `f${i}`);
  }
});

test('a file whose name is 255 bytes (the longest legal component) downloads beside a partial that fits the file system', async (t) => {
  const { dir, root, connect } = await startRig(t);
  await mkdir(join(root, 'long'));
  for (const name of [LONG_ASCII, LONG_UTF8]) await writeFile(join(root, 'long', name), `content of ${name}`);
  const dest = join(dir, 'download');
  await getFiles({ ...connect, remotePaths: [`long/${LONG_ASCII}`, `long/${LONG_UTF8}`], localDir: dest });
  assert.deepEqual((await readdir(dest)).sort(), [LONG_ASCII, LONG_UTF8].sort());
  for (const name of [LONG_ASCII, LONG_UTF8])
    assert.equal(await readFile(join(dest, name), 'utf8'), `content of ${name}`);
});

test('getFiles -r gives the top directory of the download the mode and mtime it has on the server', async (t) => {
  const { dir, root, connect } = await startRig(t);
  await mkdir(join(root, 'top', 'inner'), { recursive: true });
  await writeFile(join(root, 'top', 'inner', 'f'), 'f');
  await chmod(join(root, 'top'), 0o750);
  await setTimes(join(root, 'top'), 1_600_000_000_123);
  const dest = join(dir, 'download');
  await getFiles({ ...connect, remotePaths: ['top'], localDir: dest, recursive: true });
  const st = await lstat(join(dest, 'top'));
  assert.deepEqual(
    { mode: st.mode & 0o7777, mtimeMs: Math.trunc(st.mtimeMs) },
    { mode: 0o750, mtimeMs: 1_600_000_000_123 },
  );
});

test('300 small files are sent with sendTree and fetched with getFiles -r over exactly one TCP connection each way', async (t) => {
  const { dir, server, connect } = await startRig(t);
  const proxy = await FaultProxy.start({ target: server.address });
  t.after(() => proxy.close());
  const random = new SeededRandom(300);
  const source = join(dir, 'local', 'many');
  for (let d = 0; d < 10; d++) await mkdir(join(source, `d${d}`), { recursive: true });
  for (let i = 0; i < 300; i++)
    await writeFile(join(source, `d${i % 10}`, `f${i}.bin`), random.bytes(random.int(1024, 4096)));
  const original = await snapshotTree(source, { includeTop: true });

  const viaProxy = { ...connect, server: proxy.address };
  const sent = await sendTree({ ...viaProxy, dirs: [source], chunkBytes: CHUNK_BYTES });
  assert.equal(sent.filter((r) => r.kind === 'file').length, 300);
  assert.equal(proxy.connections.length, 1, 'the upload used one connection');

  const dest = join(dir, 'download');
  const got = await getFiles({
    ...viaProxy,
    remotePaths: ['many'],
    localDir: dest,
    recursive: true,
    chunkBytes: CHUNK_BYTES,
  });
  assert.equal(got.length, 300);
  assert.equal(proxy.connections.length, 2, 'the download used one more connection, and only one');
  const copy = await snapshotTree(join(dest, 'many'), { includeTop: true });
  // The top directory's own metadata is compared in the round-trip test; here only the 300 files matter.
  for (const [path, entry] of original)
    if (entry.kind === 'file') assert.equal(copy.get(path)?.sha256, entry.sha256, path);
});

test('a tree with a nested `.ferry` directory goes up with sendTree and comes back with getFiles -r, from its own path and from the root', async (t) => {
  const { dir, root, connect } = await startRig(t);
  const source = join(dir, 'photos');
  await mkdir(join(source, '.ferry', 'partial'), { recursive: true });
  await writeFile(join(source, '.ferry', 'partial', 'x'), 'not the server state');
  await writeFile(join(source, '.FERRY-notes'), 'notes');
  const skipped: string[] = [];
  await sendTree({
    ...connect,
    dirs: [source],
    chunkBytes: CHUNK_BYTES,
    onSkip: (path) => skipped.push(path),
  });
  assert.deepEqual(skipped, []);
  assert.equal(
    await readFile(join(root, 'photos', '.ferry', 'partial', 'x'), 'utf8'),
    'not the server state',
  );

  for (const remotePath of ['photos', '']) {
    const dest = join(dir, `download-${remotePath || 'root'}`);
    await getFiles({
      ...connect,
      remotePaths: [remotePath],
      localDir: dest,
      recursive: true,
      chunkBytes: CHUNK_BYTES,
    });
    assert.equal(
      await readFile(join(dest, 'photos', '.ferry', 'partial', 'x'), 'utf8'),
      'not the server state',
    );
    // The server's own `.ferry` at the top of the root is never listed, so never downloaded.
    assert.deepEqual(await readdir(dest), ['photos'], remotePath);
  }
});

test('getFiles into a destination whose path runs through a symbolic link (as /tmp does on macOS) downloads and leaves no partial', async (t) => {
  const { dir, connect } = await startRig(t);
  const source = join(dir, 'small');
  await mkdir(source);
  await writeFile(join(source, 'a.txt'), 'a'.repeat(3 * CHUNK_BYTES + 5));
  await sendTree({ ...connect, dirs: [source], chunkBytes: CHUNK_BYTES });
  await mkdir(join(dir, 'real', 'downloads'), { recursive: true });
  await symlink(join(dir, 'real'), join(dir, 'via-link'));

  for (const [localDir, recursive, remotePath] of [
    [join(dir, 'via-link', 'downloads'), false, 'small/a.txt'],
    [join(dir, 'via-link', 'downloads', 'new', 'deeper'), true, 'small'],
    [join(dir, 'via-link'), true, 'small'],
  ] as const) {
    await getFiles({ ...connect, remotePaths: [remotePath], localDir, recursive, chunkBytes: CHUNK_BYTES });
    const landed = join(localDir, recursive ? 'small/a.txt' : 'a.txt');
    assert.equal((await readFile(landed, 'utf8')).length, 3 * CHUNK_BYTES + 5, localDir);
    const names = await readdir(recursive ? join(localDir, 'small') : localDir);
    assert.deepEqual(
      names.filter((n) => n.includes('.ferry-')),
      [],
      `no partial or state left in ${localDir}`,
    );
  }
});

test('sendTree of a directory named through a symbolic link sends the directory under the name given, and follows no link below it', async (t) => {
  const { dir, root, connect } = await startRig(t);
  await mkdir(join(dir, 'real', 'sub'), { recursive: true });
  await writeFile(join(dir, 'real', 'sub', 'f.txt'), 'through the link');
  await symlink(join(dir, 'real'), join(dir, 'named'));
  await symlink(join(dir, 'real', 'sub'), join(dir, 'real', 'sub-link'));
  const skipped: string[] = [];
  await sendTree({
    ...connect,
    dirs: [join(dir, 'named')],
    chunkBytes: CHUNK_BYTES,
    onSkip: (path) => skipped.push(path),
  });
  assert.equal(await readFile(join(root, 'named', 'sub', 'f.txt'), 'utf8'), 'through the link');
  assert.deepEqual(skipped, ['named/sub-link'], 'a link below the top is still not followed');
});

test('an uploaded tree lands without setuid, setgid, sticky or group/world write, by the same policy a download applies', async (t) => {
  const { dir, root, connect } = await startRig(t);
  const source = join(dir, 'modes');
  await mkdir(join(source, 'open'), { recursive: true });
  await writeFile(join(source, 'open', 'run'), '#!/bin/sh\n');
  await writeFile(join(source, 'shared.txt'), 'shared');
  await chmod(join(source, 'open', 'run'), 0o6777);
  await chmod(join(source, 'shared.txt'), 0o666);
  await chmod(join(source, 'open'), 0o1777);
  await sendTree({ ...connect, dirs: [source], chunkBytes: CHUNK_BYTES });
  const modeOf = async (path: string): Promise<number> => (await lstat(join(root, path))).mode & 0o7777;
  assert.equal(await modeOf('modes/open'), 0o755);
  assert.equal(await modeOf('modes/open/run'), 0o755);
  assert.equal(await modeOf('modes/shared.txt'), 0o644);
});
