// GET_BATCH (PROTOCOL.md §5.20) from a client probing the server's root: every path takes GET_REQUEST's rules
// one by one (docs/SECURITY.md "Small files downloaded in batches"). Escaping names, links on the way or at
// the name, a fifo, a directory, `.ferry`, a file too large for a batch and a repeated name are each answered
// for themselves, in request order; no byte from outside the root is ever in an answer, and the batch
// goes on. Real server on loopback, a raw admitted session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import {
  MAX_BATCH_DATA_BYTES,
  MAX_BATCH_FILE_BYTES,
  PERMISSION_DOWNLOAD,
  type GetBatchEntry,
} from '../../src/protocol/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const SECRET = 'secret outside the root\n';

test('GET_BATCH answers escaping, linked, special, reserved and oversized paths each with its own refusal, in order, and never a byte from outside the root', async (t) => {
  const client = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-get-batch-attacks-', {
    authorize: (key) => (key.equals(client.publicKey) ? { permissions: PERMISSION_DOWNLOAD } : undefined),
  });
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  await mkdir(outside, { recursive: true });
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(outside, 'x'), SECRET);
  await writeFile(join(root, 'ok.txt'), 'ok\n');
  await writeFile(join(root, 'big.bin'), Buffer.alloc(MAX_BATCH_FILE_BYTES + 1, 1));
  await symlink(outside, join(root, 'linkdir'));
  await symlink(join(outside, 'x'), join(root, 'lnk.txt'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  const asked: Array<[path: string, expected: keyof typeof ERROR_CODES | 'file']> = [
    ['ok.txt', 'file'],
    ['linkdir/x', 'PATH_ESCAPES_ROOT'],
    ['lnk.txt', 'PATH_ESCAPES_ROOT'],
    ['fifo', 'PATH_INVALID'],
    ['sub', 'PATH_INVALID'],
    ['.ferry/partial/x', 'PATH_INVALID'],
    ['missing.txt', 'PATH_NOT_FOUND'],
    ['big.bin', 'FILE_TOO_LARGE'],
    ['ok.txt', 'file'],
  ];
  const session = await openAdmittedSession(t, server.address, client);
  await session.send({ type: 'GET_BATCH', ref: 1, paths: asked.map(([path]) => path) });
  const answered: GetBatchEntry[] = [];
  while (answered.length < asked.length) {
    const message = await session.receive();
    assert.equal(message.type, 'GET_BATCH_DATA', JSON.stringify(message));
    if (message.type === 'GET_BATCH_DATA') answered.push(...message.entries);
  }
  asked.forEach(([path, expected], k) => {
    const entry = answered[k]!;
    if (expected === 'file') {
      assert.equal(entry.status, 'file', path);
      if (entry.status === 'file') assert.equal(Buffer.from(entry.data).toString(), 'ok\n', path);
    } else {
      assert.equal(entry.status, 'refused', path);
      if (entry.status === 'refused')
        assert.equal(entry.code, ERROR_CODES[expected].wire, `${path}: ${expected}`);
    }
  });
  for (const entry of answered)
    if (entry.status === 'file') assert.ok(!Buffer.from(entry.data).toString().includes('secret'));
  // The session goes on: a plain listing is still answered.
  await session.send({
    type: 'LIST_REQUEST',
    ref: 2,
    path: '',
    recursive: false,
    namesOnly: true,
    selfOnly: true,
  });
  assert.equal((await session.receive()).type, 'LIST_END');
});

test('a GET_BATCH carries at most its data bound though files are read ahead: past it entries are refused in order, a smaller one after still fits', async (t) => {
  const client = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-get-batch-room-', {
    authorize: (key) => (key.equals(client.publicKey) ? { permissions: PERMISSION_DOWNLOAD } : undefined),
  });
  const root = join(dir, 'root');
  await mkdir(root, { recursive: true });
  const fitting = Math.floor(MAX_BATCH_DATA_BYTES / MAX_BATCH_FILE_BYTES);
  const left = MAX_BATCH_DATA_BYTES - fitting * MAX_BATCH_FILE_BYTES;
  assert.ok(left > 1, 'room is left for a small file after the full ones');
  const paths: string[] = [];
  for (let i = 0; i < fitting + 3; i++) {
    paths.push(`full-${i}.bin`);
    await writeFile(join(root, `full-${i}.bin`), Buffer.alloc(MAX_BATCH_FILE_BYTES, i));
  }
  await writeFile(join(root, 'small.bin'), Buffer.alloc(left, 7));
  paths.push('small.bin', 'full-0.bin');
  const session = await openAdmittedSession(t, server.address, client);
  await session.send({ type: 'GET_BATCH', ref: 1, paths });
  const answered: GetBatchEntry[] = [];
  while (answered.length < paths.length) {
    const message = await session.receive();
    assert.equal(message.type, 'GET_BATCH_DATA', JSON.stringify(message));
    if (message.type === 'GET_BATCH_DATA') answered.push(...message.entries);
  }
  let carried = 0;
  answered.forEach((entry, k) => {
    const path = paths[k]!;
    if (k < fitting || path === 'small.bin') {
      assert.equal(entry.status, 'file', path);
      if (entry.status !== 'file') return;
      carried += entry.data.length;
      const fill = path === 'small.bin' ? 7 : k;
      assert.ok(Buffer.from(entry.data).equals(Buffer.alloc(entry.data.length, fill)), `${path}'s bytes`);
    } else {
      assert.equal(entry.status, 'refused', path);
      if (entry.status === 'refused') assert.equal(entry.code, ERROR_CODES.FILE_TOO_LARGE.wire, path);
    }
  });
  assert.equal(carried, MAX_BATCH_DATA_BYTES);
});
