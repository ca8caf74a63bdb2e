// Issue 16: a delta upload's server places its old file's leaves into the new file as it signs them, and
// writing 1 GiB of new page cache cost it 0.3-2 CPU s; a file partial writes them around the page cache
// (`StoredPartial.writeUnbuffered`, O_DIRECT through a descriptor of its own), which takes the signing's
// pieces as they are read (`signLeaves`: whole leaves in memory aligned for it). Where it cannot (a length
// not aligned) it writes nothing and says so, and the ordinary write does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkHashes, LEAF_BYTES } from '../../src/protocol/index.js';
import { FilePartialStore, SourceFile, signLeaves } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** Whether files in `dir` can be opened for direct I/O (not on every file system). */
async function directIo(dir: string): Promise<boolean> {
  try {
    const probe = await open(join(dir, 'probe'), constants.O_CREAT | constants.O_WRONLY | constants.O_DIRECT);
    await probe.close();
    return true;
  } catch {
    return false;
  }
}

test('a file partial takes the signing pieces around the page cache, and a piece it cannot take is left to write', async (t) => {
  const dir = await makeTempDir('ferry-place-unbuffered-');
  t.after(() => removeTempDir(dir));
  if (!(await directIo(dir))) {
    t.skip('no direct I/O on this file system');
    return;
  }
  // Three pieces of the signing (64, 64 and 2 whole leaves) and a short last leaf.
  const size = 130 * LEAF_BYTES + 777;
  const bytes = randomBytes(size);
  await writeFile(join(dir, 'old'), bytes);
  const store = new FilePartialStore({
    pathsOf: () => ({ dataPath: join(dir, 'part'), logPath: join(dir, 'state') }),
  });
  const stored = await store.open(
    'k',
    { size, mtimeMs: 0, chunkBytes: 4 * LEAF_BYTES },
    { fresh: true, keepLog: true },
  );
  const source = await SourceFile.open(join(dir, 'old'), { noFollow: true });
  const taken: boolean[] = [];
  try {
    await signLeaves(
      source,
      1,
      new ChunkHashes(size, LEAF_BYTES),
      () => Promise.resolve(),
      async (offset, leaves) => {
        const whole = leaves.filter((leaf) => leaf.length === LEAF_BYTES);
        taken.push(await stored.writeUnbuffered!(offset, whole));
        const short = leaves.find((leaf) => leaf.length < LEAF_BYTES);
        if (short !== undefined) {
          // Not a whole block of the device: refused, nothing written, and written the ordinary way.
          assert.equal(await stored.writeUnbuffered!(offset + whole.length * LEAF_BYTES, [short]), false);
          await stored.write(offset + whole.length * LEAF_BYTES, Buffer.from(short));
          await stored.flushWrites();
        }
      },
    );
    assert.deepEqual(taken, [true, true, true], 'every piece of whole leaves written directly');
    const back = Buffer.alloc(size);
    assert.equal(await stored.read(0, back), size);
    assert.ok(back.equals(bytes), 'the partial holds the old file');
  } finally {
    await source.close();
    await stored.close();
  }
});
