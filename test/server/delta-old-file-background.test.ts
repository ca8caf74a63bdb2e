// A delta upload whose new file has another size than the old one (an insertion or a deletion) signs its old
// file in the background (issue 16): the session serves PUT_COPY while the signature is still being sent
// (PROTOCOL.md §5.15.2), and closing the transfer stops the signing before the old file closes. Driven through
// the real DeltaOldFile over a real old file on disk (in leaves: 16 MiB and more) and a real PartialTransfer
// in a memory store; the session is reduced to what the signing uses, its record sender held at will so the
// copies provably run while the signing waits.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeltaOldFile } from '../../src/server/delta-old-file.js';
import { FileHashCache } from '../../src/server/file-hash-cache.js';
import { DeltaMemory } from '../../src/server/delta-memory.js';
import type { SessionIo } from '../../src/server/session-io.js';
import {
  ChunkHashes,
  LEAF_BYTES,
  chunkHashOf,
  deltaSignatureOf,
  type DeltaBlocksMessage,
  type PutOfferMessage,
} from '../../src/protocol/index.js';
import { MemoryPartialStore, PartialTransfer, type RootPath } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** 16 MiB and a bit: signed in leaves, 5 records of 64 leaves. */
const OLD_SIZE = 16 * 1024 * 1024 + 4321;
const INSERTED = 1000;
const CHUNK = 64 * LEAF_BYTES;

interface Rig {
  old: Buffer;
  file: DeltaOldFile;
  partial: PartialTransfer<string>;
  store: MemoryPartialStore<string>;
  records: DeltaBlocksMessage[];
  /** Resolves when the signing has sent its first record and waits on `release`. */
  held: Promise<void>;
  release: () => void;
  signing: { readonly done: Promise<void>; readonly placing: boolean };
}

/**
 * Opens a 16 MiB old file as a delta upload's server does, for a new file INSERTED bytes longer, and starts
 * its signing; the first record's send waits until `release` (or fails with `sendFailure`).
 */
async function started(t: TestContext, sendFailure?: Error): Promise<Rig> {
  const dir = await makeTempDir('ferry-delta-background-');
  t.after(() => removeTempDir(dir));
  const old = randomBytes(OLD_SIZE);
  const oldPath = join(dir, 'old.bin');
  await writeFile(oldPath, old);
  const records: DeltaBlocksMessage[] = [];
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let onHeld = (): void => undefined;
  const held = new Promise<void>((resolve) => (onHeld = resolve));
  const io = {
    may: () => true,
    clientKey: Buffer.alloc(32, 1),
    ctx: { hashCache: new FileHashCache(), deltaMemory: new DeltaMemory() },
    send: async (record: DeltaBlocksMessage) => {
      records.push(record);
      if (records.length === 1) {
        onHeld();
        await gate;
        if (sendFailure) throw sendFailure;
      }
    },
  } as unknown as SessionIo;
  const size = OLD_SIZE + INSERTED;
  const file = await DeltaOldFile.open(
    io,
    { delta: true, size } as PutOfferMessage,
    {
      path: oldPath,
    } as RootPath,
  );
  assert.ok(file, 'the old file is open for the delta');
  t.after(() => file.close());
  const store = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(store, 'k', {
    size,
    mtimeMs: 0,
    chunkBytes: CHUNK,
    fresh: true,
    durableBatchBytes: CHUNK,
  });
  t.after(() => partial.close());
  const signing = file.startSignature(io, 1, partial, size);
  // Observed, so a rejection the test waits for later is never reported as unhandled meanwhile.
  signing.done.catch(() => undefined);
  return { old, file, partial, store, records, held, release, signing };
}

test('an insertion is copied while its signature is still being sent, and the file placed is the new one', async (t) => {
  const r = await started(t);
  assert.equal(r.signing.placing, false, 'another size: nothing is placed, the signing runs behind');
  await r.held;
  // The signing waits on its first record's send: every chunk is copied meanwhile.
  const next = Buffer.concat([randomBytes(INSERTED), r.old]);
  const hashes = new ChunkHashes(next.length, CHUNK);
  for (let index = 0; index * CHUNK < next.length; index++) {
    const start = index * CHUNK;
    const end = Math.min(next.length, start + CHUNK);
    let at = start;
    if (index === 0) {
      await r.partial.writeData(0, Buffer.from(next.subarray(0, INSERTED)), r);
      at = INSERTED;
    }
    await r.file.copyInto(
      r.partial,
      { type: 'PUT_COPY', ref: 1, offset: at, oldOffset: at - INSERTED, length: end - at },
      r,
    );
    const hash = chunkHashOf(next.subarray(start, end));
    r.partial.completeChunk(index, hash, r);
    hashes.set(index, hash);
  }
  assert.equal(r.records.length, 1, 'every copy was served while the signing waited');
  r.release();
  await r.signing.done;
  const expected = deltaSignatureOf(r.old, LEAF_BYTES);
  assert.deepEqual(
    r.records.flatMap((record) => [...record.weak]),
    [...expected.weak],
  );
  assert.ok(Buffer.concat(r.records.map((record) => record.strong)).equals(expected.strong), 'strong');
  await r.partial.finish(hashes.digest(), 'target', { mode: 0o644, overwrite: true });
  assert.ok(r.store.placed.get('target')!.bytes.equals(next), 'the new file, byte-exact');
});

test('closing the old file stops its signing before the next read, and the signing ends without an error', async (t) => {
  const r = await started(t);
  await r.held;
  const closed = r.file.close();
  r.release();
  await closed;
  await r.signing.done;
  assert.ok(r.records.length < 5, `stopped early: ${r.records.length} of 5 records sent`);
});

test('stopping the signing does not wait for a record the client never reads: close returns, and the signing ends without an error', async (t) => {
  const r = await started(t);
  await r.held;
  // The first record's send stays parked (a client that stopped reading): never released here.
  await r.file.close();
  await r.signing.done;
  assert.equal(r.records.length, 1, 'nothing was sent after the parked record');
});

test('a signing that fails (its record could not be sent) rejects with that failure', async (t) => {
  const failure = new Error('the session is gone');
  const r = await started(t, failure);
  await r.held;
  r.release();
  await assert.rejects(r.signing.done, (err) => err === failure);
});
