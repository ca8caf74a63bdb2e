import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isFerryError } from '../../src/errors/index.js';
import { digestFile } from '../../src/index.js';
import { MAX_CHUNK_BYTES } from '../../src/protocol/index.js';
import { SourceFile, hashAllChunks } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

import { bytePattern } from '../helpers/byte-pattern.js';
import type { FileDigestVector } from '../vectors/vector-json.js';

const VECTORS = (
  JSON.parse(readFileSync(new URL('../vectors/ferry-file-digests.json', import.meta.url), 'utf8')) as {
    vectors: FileDigestVector[];
  }
).vectors;

async function tempDir(t: TestContext): Promise<string> {
  const dir = await makeTempDir('ferry-digest-file-');
  t.after(() => removeTempDir(dir));
  return dir;
}

test('`digestFile` of a file on disk is the published file digest of its content (test/vectors/ferry-file-digests.json)', async (t) => {
  const dir = await tempDir(t);
  assert.ok(VECTORS.length >= 3);
  for (const [i, v] of VECTORS.entries()) {
    const path = join(dir, `v${i}`);
    await writeFile(path, bytePattern(v.size));
    // No chunk size to name: the digest is defined over leaves (PROTOCOL.md §7.2).
    assert.equal((await digestFile(path)).toString('hex'), v.fileDigest, v.name);
  }
});

test('`digestFile` names a missing file (PATH_NOT_FOUND) and stops when its signal is aborted', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(digestFile(join(dir, 'nope')), (err) => isFerryError(err, 'PATH_NOT_FOUND'));
  await writeFile(join(dir, 'f'), Buffer.alloc(40_000));
  const aborted = AbortSignal.abort();
  await assert.rejects(digestFile(join(dir, 'f'), { signal: aborted }), (err) =>
    isFerryError(err, 'ABORTED'),
  );
});

test('`digestFile` equals the digest a sender computes at any chunk size, so a raised chunk size changes nothing (PROTOCOL.md §7.2)', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'f');
  await writeFile(path, bytePattern(9 * 64 * 1024 + 123));
  const digest = await digestFile(path);
  const source = await SourceFile.open(path);
  try {
    // What chunkBytesFor does above 4 TiB, in small: the same file hashed as senders hash it, chunk sizes raised.
    for (const chunkBytes of [64 * 1024, 128 * 1024, 256 * 1024, 4 * 1024 * 1024, MAX_CHUNK_BYTES]) {
      assert.deepEqual((await hashAllChunks(source, chunkBytes)).digest(), digest, `chunks of ${chunkBytes}`);
    }
  } finally {
    await source.close();
  }
});
