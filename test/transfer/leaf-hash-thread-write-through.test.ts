// The leaf hash thread's write-through (`hashFile` with `writeThrough`, issue 16): a delta's receiver reads
// its old file once, and the thread that hashes each leaf where it lies also writes it where it lies into the
// new file, from the very bytes hashed. Every whole leaf below the bound lands (and only those), the count of
// leaves landed is published, and the job answers only once no write is in flight. Real files, through a
// descriptor opened for direct I/O where the file system has it, else a plain one (the thread cares not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants, type PathLike } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LEAF_BYTES, leafHash } from '../../src/protocol/index.js';
import { LeafHashThread } from '../../src/transfer/index.js';
import { openBytesFile } from '../helpers/chunk-source-view.js';

/** Three pieces of 64 leaves, a short last piece and a short last leaf. */
const bytes = randomBytes(200 * LEAF_BYTES + 999);

async function openDirect(path: PathLike) {
  const flags = constants.O_RDWR | constants.O_CREAT;
  return open(path, flags | constants.O_DIRECT, 0o600).catch(() => open(path, flags, 0o600));
}

test('LeafHashThread.hashFile with writeThrough writes the whole leaves below its end where they lie, from the bytes hashed', async (t) => {
  const { file, path } = await openBytesFile(t, 'ferry-write-through-', bytes);
  const into = join(path, '..', 'new.bin');
  const partial = await openDirect(into);
  t.after(() => partial.close());
  await partial.truncate(bytes.length);
  const thread = new LeafHashThread();
  t.after(() => thread.close());
  const leaves = Math.ceil(bytes.length / LEAF_BYTES);
  const table = new SharedArrayBuffer(32 * leaves);
  const state = new Int32Array(new SharedArrayBuffer(16));
  // Bounded inside the last piece: leaves 150-199 and the short last one are hashed, not written.
  const end = 150 * LEAF_BYTES + 100;
  const fd = file.lendFd();
  try {
    assert.equal(
      await thread.hashFile(fd, bytes.length, 64 * LEAF_BYTES, table, state, { fd: partial.fd, end }),
      undefined,
    );
  } finally {
    file.returnFd();
  }
  assert.equal(state[0], leaves, 'every leaf hashed');
  assert.equal(state[2], 150, 'the leaves landed, counted in order');
  assert.equal(state[3], 0, 'no write failed');
  for (let leaf = 0; leaf < leaves; leaf++) {
    const at = leaf * LEAF_BYTES;
    const want = leafHash(bytes.subarray(at, Math.min(bytes.length, at + LEAF_BYTES)));
    assert.ok(Buffer.from(table, 32 * leaf, 32).equals(want), `leaf ${leaf} hashed`);
  }
  const written = await readFile(into);
  assert.ok(
    written.subarray(0, 150 * LEAF_BYTES).equals(bytes.subarray(0, 150 * LEAF_BYTES)),
    'written where they lie',
  );
  assert.ok(
    written.subarray(150 * LEAF_BYTES).equals(Buffer.alloc(bytes.length - 150 * LEAF_BYTES)),
    'nothing past the end',
  );
});

test('LeafHashThread.hashFile with writeThrough: a write that fails stops the writing, not the hashing', async (t) => {
  const { file, path } = await openBytesFile(t, 'ferry-write-through-', bytes);
  // Read-only: every write fails (EBADF).
  const partial = await open(path, 'r');
  t.after(() => partial.close());
  const thread = new LeafHashThread();
  t.after(() => thread.close());
  const table = new SharedArrayBuffer(32 * Math.ceil(bytes.length / LEAF_BYTES));
  const state = new Int32Array(new SharedArrayBuffer(16));
  const fd = file.lendFd();
  try {
    await thread.hashFile(fd, bytes.length, 64 * LEAF_BYTES, table, state, {
      fd: partial.fd,
      end: bytes.length,
    });
  } finally {
    file.returnFd();
  }
  assert.equal(state[0], Math.ceil(bytes.length / LEAF_BYTES), 'every leaf hashed');
  assert.equal(state[2], 0, 'none landed');
  assert.equal(state[3], 1, 'the failure said');
});

test('LeafHashThread.hashFile with writeThrough: a second file on the same thread is written through exactly too', async (t) => {
  const thread = new LeafHashThread();
  t.after(() => thread.close());
  for (const size of [200 * LEAF_BYTES + 999, 10 * LEAF_BYTES]) {
    const content = randomBytes(size);
    const { file, path } = await openBytesFile(t, 'ferry-write-through-', content);
    const into = join(path, '..', 'new.bin');
    const partial = await openDirect(into);
    t.after(() => partial.close());
    const state = new Int32Array(new SharedArrayBuffer(16));
    const table = new SharedArrayBuffer(32 * Math.ceil(size / LEAF_BYTES));
    const fd = file.lendFd();
    try {
      await thread.hashFile(fd, size, 64 * LEAF_BYTES, table, state, { fd: partial.fd, end: size });
    } finally {
      file.returnFd();
    }
    const whole = Math.floor(size / LEAF_BYTES) * LEAF_BYTES;
    assert.equal(state[2], whole / LEAF_BYTES, `${size}: every whole leaf landed`);
    assert.ok((await readFile(into)).equals(content.subarray(0, whole)), `${size}: written exactly`);
  }
});
