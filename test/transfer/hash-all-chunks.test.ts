// hashAllChunks: the one "hash every chunk of a file that exists" (an EXISTING offer, PROTOCOL.md §5.4; a
// VERIFY_ONLY request, §5.11.1), over a real file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MIN_CHUNK_BYTES, chunkHashOf, fileDigest } from '../../src/protocol/index.js';
import { SourceFile, hashAllChunks } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';

test('hashAllChunks knows every chunk hash of a file, and its digest is the file digest of its bytes', async (t) => {
  const dir = await makeTempDir();
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'f.bin');
  await writeRandomFile(path, 5 * MIN_CHUNK_BYTES + 17);
  const bytes = await readFile(path);
  const source = await SourceFile.open(path);
  t.after(() => source.close());
  const hashes = await hashAllChunks(source, MIN_CHUNK_BYTES);
  assert.equal(hashes.knownCount, 6);
  const expected = Array.from({ length: 6 }, (_, i) =>
    chunkHashOf(bytes.subarray(i * MIN_CHUNK_BYTES, (i + 1) * MIN_CHUNK_BYTES)),
  );
  assert.deepEqual(hashes.digest(), fileDigest(bytes.length, MIN_CHUNK_BYTES, expected));
});

test('hashAllChunks asks the given hasher for every chunk at once (the server’s hash cache stands in front of the file)', async (t) => {
  const dir = await makeTempDir();
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'f.bin');
  await writeRandomFile(path, 3 * MIN_CHUNK_BYTES);
  const source = await SourceFile.open(path);
  t.after(() => source.close());
  const asked: number[][] = [];
  const hashes = await hashAllChunks(source, MIN_CHUNK_BYTES, (chunks, into) => {
    asked.push([...chunks]);
    for (const index of [0, 1, 2]) into.set(index, Buffer.alloc(32, index + 1));
    return Promise.resolve();
  });
  assert.deepEqual(asked, [[0, 1, 2]]);
  assert.deepEqual(hashes.get(2), Buffer.alloc(32, 3));
});
