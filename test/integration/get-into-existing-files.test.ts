// `get` into a folder that already holds files (PROTOCOL.md §5.11.1, docs/SECURITY.md "Malicious server"): for
// each destination file that exists, the client asks VERIFY_ONLY, the real server offers its size and digest,
// and the client compares locally. Identical files are left alone, different ones refused on their own
// (FILE_EXISTS, or replaced with overwrite), missing ones downloaded; the server is told nothing about the
// local files and, from the log of what it served, cannot tell identical from different.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import type { ServerEvent } from '../../src/server/index.js';
import { getFiles, type GetEvent, type GetFilesOptions } from '../../src/client/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { bytePattern } from '../helpers/byte-pattern.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)

test('get into a folder with an identical, a different and a missing file: skipped, refused alone, downloaded; overwrite replaces', async (t) => {
  const client = generateKeyPair();
  const events: ServerEvent[] = [];
  const { dir, server } = await startTempDirServer(t, 'ferry-get-existing-', {
    authorize: (key) => (key.equals(client.publicKey) ? { permissions: PERMISSION_DOWNLOAD } : undefined),
  });
  server.events.on('event', (event: ServerEvent) => events.push(event));
  const same = bytePattern(3 * CHUNK_BYTES + 7);
  const theirs = Buffer.from(bytePattern(2 * CHUNK_BYTES));
  const ours = Buffer.from(theirs);
  ours[ours.length - 1]! ^= 1; // same size, one bit apart: only a digest tells them apart
  const missing = bytePattern(CHUNK_BYTES + 1);
  await writeFile(join(server.root, 'same.bin'), same);
  await writeFile(join(server.root, 'other.bin'), theirs);
  await writeFile(join(server.root, 'missing.bin'), missing);
  const dest = join(dir, 'dest');
  await mkdir(dest);
  await writeFile(join(dest, 'same.bin'), same);
  await writeFile(join(dest, 'other.bin'), ours);
  const sameBefore = await stat(join(dest, 'same.bin'));

  const clientEvents: GetEvent[] = [];
  const options = (overrides: Partial<GetFilesOptions> = {}): GetFilesOptions => ({
    server: server.address,
    identity: client,
    verifyServer: () => undefined,
    retry: { retries: 0, sleep: () => Promise.resolve(), random: () => 0 },
    remotePaths: ['same.bin', 'other.bin', 'missing.bin'],
    localDir: dest,
    chunkBytes: CHUNK_BYTES,
    onEvent: (event) => clientEvents.push(event),
    ...overrides,
  });
  await assert.rejects(getFiles(options()), (err: unknown) => isFerryError(err, 'FILE_EXISTS'));
  assert.deepEqual(await readFile(join(dest, 'same.bin')), same);
  assert.equal((await stat(join(dest, 'same.bin'))).mtimeMs, sameBefore.mtimeMs, 'identical: left alone');
  assert.deepEqual(await readFile(join(dest, 'other.bin')), ours, 'different: refused, not touched');
  assert.deepEqual(await readFile(join(dest, 'missing.bin')), missing, 'missing: downloaded');
  const finished = clientEvents.filter((e) => e.type === 'transfer-finished');
  assert.deepEqual(
    finished.map((e) => [e.remotePath, e.transferredBytes]),
    [
      ['same.bin', 0],
      ['missing.bin', missing.length],
    ],
  );
  const failed = clientEvents.filter((e) => e.type === 'transfer-failed');
  assert.deepEqual(
    failed.map((e) => [e.remotePath, e.code]),
    [['other.bin', 'FILE_EXISTS']],
  );
  // The server answered both checks the same way and was told no outcome: it refused nothing (before
  // version 2 it compared the client's digest and refused other.bin itself), and only the missing file is a
  // transfer in its events.
  assert.deepEqual(
    events.filter((e) => e.type === 'operation-refused' || e.type === 'transfer-failed').map((e) => e.type),
    [],
  );
  assert.deepEqual(
    events.flatMap((e) => (e.type === 'transfer-finished' ? [[e.transfer.path, e.transferredBytes]] : [])),
    [['missing.bin', missing.length]],
  );

  await getFiles(options({ remotePaths: ['other.bin'], overwrite: true }));
  assert.deepEqual(await readFile(join(dest, 'other.bin')), theirs, 'overwrite replaces the different file');
});
