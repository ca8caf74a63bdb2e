// A delta upload's copies off the new file's leaf boundaries (1000 bytes inserted before them): the server
// hashes each piece's whole new leaves half on its leaf hash thread and half on its own thread, as leaf
// hints the partial's chunk hasher takes (issue 16). Driven through the real DeltaOldFile over a real old
// file on disk and a real PartialTransfer (in a memory store): every chunk must verify against the hash of
// the new file's bytes, and the file placed must be the new file, byte-exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeltaOldFile } from '../../src/server/delta-old-file.js';
import type { SessionIo } from '../../src/server/session-io.js';
import { ChunkHashes, LEAF_BYTES, chunkHashOf, type PutOfferMessage } from '../../src/protocol/index.js';
import { MemoryPartialStore, PartialTransfer, type RootPath } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK = 16 * LEAF_BYTES;
const INSERTED = 1000;

test('copies shifted off the leaf boundaries verify chunk by chunk and place the new file byte-exact', async (t) => {
  const dir = await makeTempDir('ferry-delta-shifted-');
  t.after(() => removeTempDir(dir));
  const old = randomBytes(3 * CHUNK + 4321);
  const oldPath = join(dir, 'old.bin');
  await writeFile(oldPath, old);
  const next = Buffer.concat([randomBytes(INSERTED), old]);
  const io = { may: () => true } as unknown as SessionIo;
  const file = await DeltaOldFile.open(
    io,
    { delta: true, size: next.length } as PutOfferMessage,
    {
      path: oldPath,
    } as RootPath,
  );
  assert.ok(file, 'the old file is open for the delta');
  t.after(() => file.close());
  const store = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(store, 'k', {
    size: next.length,
    mtimeMs: 0,
    chunkBytes: CHUNK,
    fresh: true,
    durableBatchBytes: CHUNK,
  });
  t.after(() => partial.close());
  const hashes = new ChunkHashes(next.length, CHUNK);
  for (let index = 0; index * CHUNK < next.length; index++) {
    const start = index * CHUNK;
    const end = Math.min(next.length, start + CHUNK);
    let at = start;
    if (index === 0) {
      await partial.writeData(0, Buffer.from(next.subarray(0, INSERTED)), file);
      at = INSERTED;
    }
    await file.copyInto(
      partial,
      { type: 'PUT_COPY', ref: 1, offset: at, oldOffset: at - INSERTED, length: end - at },
      file,
    );
    const hash = chunkHashOf(next.subarray(start, end));
    partial.completeChunk(index, hash, file);
    hashes.set(index, hash);
  }
  await partial.finish(hashes.digest(), 'target', { mode: 0o644, overwrite: true });
  assert.ok(store.placed.get('target')!.bytes.equals(next), 'the new file, byte-exact');
});
