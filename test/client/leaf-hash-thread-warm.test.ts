// The leaf hash thread is started before a delta needs it (issue 16): by a server as it starts listening (a
// delta's signing waited ~30 ms for the thread before its first record went), and by a client as it finds
// an old file of at least 16 MiB to replace (its scan's first window waited as long). A thread that was only
// started keeps no process alive. Real files (sparse), a real server on loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { deltaBase } from '../../src/client/receive-delta.js';
import { LEAF_DELTA_FROM_BYTES } from '../../src/protocol/index.js';
import { LEAF_HASH_THREAD } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** A sparse file of `size` bytes at `path`. */
async function sparse(path: string, size: number): Promise<void> {
  const file = await open(path, 'w');
  await file.truncate(size);
  await file.close();
}

test('a client starts the leaf hash thread for an old file of leaves only', async (t) => {
  const dir = await makeTempDir('ferry-hash-thread-warm-');
  t.after(() => removeTempDir(dir));
  await LEAF_HASH_THREAD.close();
  await sparse(join(dir, 'small'), LEAF_DELTA_FROM_BYTES - 1);
  assert.equal(await deltaBase(join(dir, 'small')), true);
  assert.equal(LEAF_HASH_THREAD.running, false, 'signed in blocks: no leaf hashed ahead');
  await sparse(join(dir, 'large'), LEAF_DELTA_FROM_BYTES);
  assert.equal(await deltaBase(join(dir, 'large')), true);
  assert.equal(LEAF_HASH_THREAD.running, true, 'started as the delta is decided');
  await LEAF_HASH_THREAD.close();
});

test('a server starts the leaf hash thread as it starts', async (t) => {
  await LEAF_HASH_THREAD.close();
  assert.equal(LEAF_HASH_THREAD.running, false);
  await startTempDirServer(t, 'ferry-hash-thread-server-', { authorize: () => undefined });
  assert.equal(LEAF_HASH_THREAD.running, true);
});
