// Small files downloaded in batches (PROTOCOL.md §5.20) through the library against a real server on loopback:
// many files in few requests, each verified and placed with its mode and mtime; an entry refused on its own
// (gone, grown past a batch's bounds) goes the one-file path and the others are placed; a file changed after
// the listing arrives as it is now; a link out of the root on the server is refused per entry and never read.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { writeFileSync, unlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import type { FerryServer } from '../../src/server/index.js';
import { getFiles, type ConnectOptions, type GetEvent } from '../../src/client/index.js';
import { ERROR_CODES, codeFromWire } from '../../src/errors/index.js';
import {
  DEFAULT_CHUNK_BYTES,
  MAX_BATCH_FILE_BYTES,
  PERMISSION_DOWNLOAD,
  smallFileDigest,
} from '../../src/protocol/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const FILE_BYTES = 4096;

interface Rig {
  dir: string;
  root: string;
  server: FerryServer;
  identity: KeyPair;
  connect: ConnectOptions;
  /** The refs the server reported file transfers under, one per file sent. */
  refs: number[];
}

async function startRig(t: TestContext): Promise<Rig> {
  const identity = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-get-batches-', {
    authorize: (key) => (key.equals(identity.publicKey) ? { permissions: PERMISSION_DOWNLOAD } : undefined),
  });
  const refs: number[] = [];
  server.events.on('transfer-finished', (event) => refs.push(event.transfer.ref));
  return {
    dir,
    root: server.root,
    server,
    identity,
    refs,
    connect: {
      server: server.address,
      identity,
      verifyServer: () => undefined,
      retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    },
  };
}

function contentOf(name: string, bytes = FILE_BYTES): Buffer {
  return Buffer.alloc(bytes, `${name}|`);
}

async function localDir(t: TestContext): Promise<string> {
  const dir = await makeTempDir('ferry-get-batches-local-');
  t.after(() => removeTempDir(dir));
  return dir;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

test('get -r fetches 600 small files in batches, each verified and placed with its mode and mtime', async (t) => {
  const rig = await startRig(t);
  const names: string[] = [];
  for (let i = 0; i < 600; i++) names.push(`tree/d${i % 7}/f${i}`);
  for (const [i, name] of names.entries()) {
    await mkdir(join(rig.root, name, '..'), { recursive: true });
    await writeFile(join(rig.root, name), contentOf(name, i % 50 === 0 ? 0 : FILE_BYTES));
    await chmod(join(rig.root, name), i % 2 === 0 ? 0o640 : 0o755);
    await utimes(join(rig.root, name), 1_600_000_000, 1_600_000_000 + i);
  }
  const local = await localDir(t);
  const events: GetEvent[] = [];
  const results = await getFiles({
    ...rig.connect,
    remotePaths: ['tree'],
    localDir: local,
    recursive: true,
    onEvent: (event) => events.push(event),
  });
  assert.equal(results.length, names.length);
  assert.deepEqual(await filesUnder(local), [...names].sort());
  for (const [i, name] of names.entries()) {
    const path = join(local, name);
    assert.deepEqual(await readFile(path), contentOf(name, i % 50 === 0 ? 0 : FILE_BYTES), name);
    const stats = await stat(path);
    assert.equal(stats.mode & 0o777, i % 2 === 0 ? 0o640 : 0o755, name);
    assert.equal(Math.round(stats.mtimeMs), (1_600_000_000 + i) * 1000, name);
  }
  // Each file reported once, as the one-file path reports it.
  const finished = events.filter((e) => e.type === 'transfer-finished');
  assert.equal(finished.length, names.length);
  assert.equal(events.filter((e) => e.type === 'transfer-started').length, names.length);
  // Batched: 600 files went under a handful of refs (at most 512 per GET_BATCH), not one ref each.
  assert.equal(rig.refs.length, names.length);
  const refs = new Set(rig.refs);
  assert.ok(refs.size >= 2 && refs.size <= 8, `${refs.size} refs for ${names.length} files`);
  // No temporary is left beside the files.
  assert.ok((await filesUnder(local)).every((path) => !path.includes('.ferry')));
});

test('a file gone after the listing fails alone, one grown past a batch entry comes the one-file way, one rewritten comes as it is now', async (t) => {
  const rig = await startRig(t);
  const names = ['t/a', 't/b', 't/gone', 't/grown', 't/rewritten', 't/z'];
  await mkdir(join(rig.root, 't'), { recursive: true });
  for (const name of names) await writeFile(join(rig.root, name), contentOf(name));
  const local = await localDir(t);
  const events: GetEvent[] = [];
  const grown = contentOf('grown', MAX_BATCH_FILE_BYTES + 1);
  const rewritten = contentOf('now', FILE_BYTES);
  const run = getFiles({
    ...rig.connect,
    remotePaths: ['t'],
    localDir: local,
    recursive: true,
    onEvent: (event) => {
      events.push(event);
      // Between the listing and the batch's request (the plan is made, nothing asked for yet).
      if (event.type === 'planned') {
        unlinkSync(join(rig.root, 't/gone'));
        writeFileSync(join(rig.root, 't/grown'), grown);
        writeFileSync(join(rig.root, 't/rewritten'), rewritten);
      }
    },
  });
  await assert.rejects(run, (err: Error & { code?: string }) => err.code === 'PATH_NOT_FOUND');
  assert.deepEqual(await filesUnder(local), ['t/a', 't/b', 't/grown', 't/rewritten', 't/z']);
  assert.deepEqual(await readFile(join(local, 't/grown')), grown);
  assert.deepEqual(await readFile(join(local, 't/rewritten')), rewritten);
  assert.deepEqual(await readFile(join(local, 't/z')), contentOf('t/z'));
  const failed = events.filter((e) => e.type === 'transfer-failed');
  assert.deepEqual(
    failed.map((e) => (e.type === 'transfer-failed' ? [e.remotePath, e.code] : [])),
    [['t/gone', 'PATH_NOT_FOUND']],
  );
});

test('an existing identical file is left as it is, a differing one is refused, and overwrite replaces it', async (t) => {
  const rig = await startRig(t);
  await mkdir(join(rig.root, 't'), { recursive: true });
  for (const name of ['same', 'differs', 'new'])
    await writeFile(join(rig.root, 't', name), contentOf(name, 100));
  const local = await localDir(t);
  await mkdir(join(local, 't'));
  await writeFile(join(local, 't/same'), contentOf('same', 100));
  // Below one delta block (1 KiB), so even `overwrite` sends it in the batch, whole.
  await writeFile(join(local, 't/differs'), 'mine');
  const events: GetEvent[] = [];
  const options = { ...rig.connect, remotePaths: ['t'], localDir: local, recursive: true };
  await assert.rejects(
    getFiles({ ...options, onEvent: (event) => events.push(event) }),
    (err: Error & { code?: string }) => err.code === 'FILE_EXISTS',
  );
  assert.equal(await readFile(join(local, 't/differs'), 'utf8'), 'mine');
  assert.deepEqual(await readFile(join(local, 't/new')), contentOf('new', 100));
  const same = events.find((e) => e.type === 'transfer-finished' && e.remotePath === 't/same');
  assert.ok(same?.type === 'transfer-finished' && same.identical && same.transferredBytes === 0);
  await getFiles({ ...options, overwrite: true });
  assert.deepEqual(await readFile(join(local, 't/differs')), contentOf('differs', 100));
  assert.ok((await filesUnder(local)).every((path) => !path.includes('.ferry')));
});

test('a GET_BATCH entry through a link out of the root is refused on its own and never read; the others are sent', async (t) => {
  const rig = await startRig(t);
  const outside = join(rig.dir, 'outside');
  await mkdir(outside);
  await writeFile(join(outside, 'secret'), 'secret bytes');
  await mkdir(join(rig.root, 'd'), { recursive: true });
  await writeFile(join(rig.root, 'd/good'), 'good bytes');
  await symlink(outside, join(rig.root, 'linkdir'));
  await symlink(join(outside, 'secret'), join(rig.root, 'd/linkfile'));
  const channel = await openAdmittedSession(t, rig.server.address, rig.identity);
  await channel.send({
    type: 'GET_BATCH',
    ref: 1,
    paths: ['linkdir/secret', 'd/good', 'd/linkfile', 'd/missing', 'd'],
  });
  const answer = await receiveMessage(channel, 'GET_BATCH_DATA');
  assert.equal(answer.ref, 1);
  const codes = answer.entries.map((entry) =>
    entry.status === 'refused' ? codeFromWire(entry.code) : entry.data.toString(),
  );
  assert.deepEqual(codes, [
    'PATH_ESCAPES_ROOT',
    'good bytes',
    'PATH_ESCAPES_ROOT',
    'PATH_NOT_FOUND',
    'PATH_INVALID',
  ]);
  const good = answer.entries[1]!;
  assert.ok(good.status === 'file');
  assert.deepEqual(good.fileDigest, smallFileDigest(Buffer.from('good bytes'), DEFAULT_CHUNK_BYTES));
  // A path that is not a remote path (§7.1) is refused too, alone.
  await channel.send({ type: 'GET_BATCH', ref: 2, paths: ['d/good', '../x'] });
  const second = await receiveMessage(channel, 'GET_BATCH_DATA');
  assert.deepEqual(
    second.entries.map((e) => e.status),
    ['file', 'refused'],
  );
  const refused = second.entries[1]!;
  assert.ok(refused.status === 'refused');
  assert.notEqual(refused.code, ERROR_CODES.INTERNAL.wire);
});

test('a client without the download permission is refused the whole GET_BATCH with an ERROR for its ref', async (t) => {
  const identity = generateKeyPair();
  const { server } = await startTempDirServer(t, 'ferry-get-batches-', {
    authorize: (key) => (key.equals(identity.publicKey) ? { permissions: 0 } : undefined),
  });
  await writeFile(join(server.root, 'f'), 'x').catch(async () => {
    await mkdir(server.root, { recursive: true });
    await writeFile(join(server.root, 'f'), 'x');
  });
  const channel = await openAdmittedSession(t, server.address, identity);
  await channel.send({ type: 'GET_BATCH', ref: 7, paths: ['f'] });
  const error = await receiveMessage(channel, 'ERROR');
  assert.equal(error.ref, 7);
  assert.equal(codeFromWire(error.code), 'PERMISSION_DENIED');
  await unlink(join(server.root, 'f'));
});
