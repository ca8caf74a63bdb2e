// A delta upload's copies off the new file's leaf boundaries (1000 bytes inserted before them): the server
// hashes each piece's whole new leaves half on its leaf hash thread and half on its own thread, as leaf
// hints the partial's chunk hasher takes (issue 16), each piece read while the one before it is hashed and
// queued for writing. Driven through the real DeltaOldFile over a real old file on disk and a real
// PartialTransfer, in a memory store whose writes land only when flushed (the store's contract allows it,
// and the file store's batched writes land behind the caller too): a read buffer reused before its write
// landed would place other bytes than those verified. Every chunk must verify against the hash of the new
// file's bytes, and the file placed must be the new file, byte-exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeltaOldFile } from '../../src/server/delta-old-file.js';
import { DeltaMemory } from '../../src/server/delta-memory.js';
import type { SessionIo } from '../../src/server/session-io.js';
import { ChunkHashes, LEAF_BYTES, chunkHashOf, type PutOfferMessage } from '../../src/protocol/index.js';
import {
  MemoryPartialStore,
  PartialTransfer,
  type PartialStore,
  type RootPath,
  type StoredPartial,
} from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** 4 MiB: a copy of a chunk is four pieces of 1 MiB, so the read buffers are reused within one copy. */
const CHUNK = 64 * LEAF_BYTES;
const INSERTED = 1000;
/** Where each chunk's copy is cut in two (2.5 MiB in). */
const SPLIT = 40 * LEAF_BYTES;

test('copies shifted off the leaf boundaries verify chunk by chunk and place the new file byte-exact', async (t) => {
  const dir = await makeTempDir('ferry-delta-shifted-');
  t.after(() => removeTempDir(dir));
  const old = randomBytes(6 * CHUNK + 4321);
  const oldPath = join(dir, 'old.bin');
  await writeFile(oldPath, old);
  const next = Buffer.concat([randomBytes(INSERTED), old]);
  const io = {
    may: () => true,
    clientKey: Buffer.alloc(32),
    ctx: { deltaMemory: new DeltaMemory() },
  } as unknown as SessionIo;
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
  const partial = await PartialTransfer.open(landingWhenFlushed(store), 'k', {
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
    // Two copies of 2.5 and 1.5 pieces: the pieces of one copy do not line up with the read buffers' turns.
    for (const to of [Math.min(end, start + SPLIT), end]) {
      if (to <= at) continue;
      await file.copyInto(
        partial,
        { type: 'PUT_COPY', ref: 1, offset: at, oldOffset: at - INSERTED, length: to - at },
        file,
      );
      at = to;
    }
    const hash = chunkHashOf(next.subarray(start, end));
    partial.completeChunk(index, hash, file);
    hashes.set(index, hash);
  }
  await partial.finish(hashes.digest(), 'target', { mode: 0o644, overwrite: true });
  assert.ok(store.placed.get('target')!.bytes.equals(next), 'the new file, byte-exact');
});

/**
 * `inner` with writes that land (are copied into the partial) only at the next flush, make-durable, read,
 * finish or close: the latest the store's contract allows.
 */
function landingWhenFlushed(inner: MemoryPartialStore<string>): PartialStore<string, string> {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'open')
        return async (...args: Parameters<MemoryPartialStore<string>['open']>) =>
          lazyWrites(await target.open(...args));
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function lazyWrites(partial: StoredPartial<string>): StoredPartial<string> {
  const queued: Array<[number, Buffer]> = [];
  const land = async (): Promise<void> => {
    for (const [offset, data] of queued.splice(0)) await partial.write(offset, data);
  };
  return new Proxy(partial, {
    get(target, prop) {
      if (prop === 'write')
        return (offset: number, data: Buffer) => {
          queued.push([offset, data]);
          return Promise.resolve();
        };
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const method = (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        await land();
        return method(...args);
      };
    },
  });
}
