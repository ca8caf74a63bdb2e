// A WARM delta upload's server (issue 16): the old file's leaf hashes come from the server's store
// (`KnownLeafHashes`) for the identity it was opened with, so the signing hashes nothing; the placing of
// old leaves still copies old bytes into the new partial, and a placed leaf counts with the known hash only
// while the old file's identity, checked after each piece was read, is the one stored (the placing rule,
// src/machines/leaf-placing.ts, counts a placed leaf with the hash of the bytes placed). A file changed
// during the placing copy: nothing placed after the change is counted, the copies read and hash, and the
// result is right (byte-exact, or CHUNK_MISMATCH where the bytes really differ: the attempt fails, retryably).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeltaOldFile } from '../../src/server/delta-old-file.js';
import { DeltaMemory } from '../../src/server/delta-memory.js';
import { FileHashCache } from '../../src/server/file-hash-cache.js';
import type { SessionIo } from '../../src/server/session-io.js';
import {
  ChunkHashes,
  LEAF_BYTES,
  chunkHashOf,
  deltaSignatureOf,
  leafHash,
  weakChecksum,
  type DeltaBlocksMessage,
  type PutOfferMessage,
} from '../../src/protocol/index.js';
import {
  KnownLeafHashes,
  MemoryPartialStore,
  PartialTransfer,
  SIGNING_COUNTERS,
  SourceFile,
  type RootPath,
} from '../../src/transfer/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const SIZE = 16 * 1024 * 1024 + 4321; // signed in leaves, 64 a record
const CHUNK = 4 * LEAF_BYTES;
const CHUNKS = Math.ceil(SIZE / CHUNK);

interface Rig {
  old: Buffer;
  oldPath: string;
  file: DeltaOldFile;
  partial: PartialTransfer<string>;
  inner: MemoryPartialStore<string>;
  store: KnownLeafHashes;
  taken: number;
  hashed: number;
  done: Promise<void>;
}

/** An old file known to the store (its leaf hashes recorded for its identity), opened and signed onto a fresh partial. */
async function warmSigning(
  t: TestContext,
  onRecord: (record: DeltaBlocksMessage, rig: Rig) => Promise<void>,
) {
  const dir = await makeTempDir('ferry-delta-known-');
  t.after(() => removeTempDir(dir));
  const old = randomBytes(SIZE);
  const oldPath = join(dir, 'old.bin');
  await writeFile(oldPath, old);
  const store = new KnownLeafHashes(join(dir, 'leaves'));
  const leaves = new ChunkHashes(SIZE, LEAF_BYTES);
  for (let i = 0; i < leaves.count; i++)
    leaves.set(i, leafHash(old.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES)));
  const probe = await SourceFile.open(oldPath);
  await store.record(oldPath, probe.identity, leaves);
  await probe.close();
  const made: { rig?: Rig } = {};
  const io = {
    may: () => true,
    clientKey: Buffer.alloc(32, 1),
    ctx: { hashCache: new FileHashCache(), deltaMemory: new DeltaMemory(), knownLeafHashes: store },
    send: (record: DeltaBlocksMessage) => onRecord(record, made.rig!),
  } as unknown as SessionIo;
  const hashedBefore = SIGNING_COUNTERS.hashedLeaves;
  const file = await DeltaOldFile.open(
    io,
    { delta: true, size: SIZE } as PutOfferMessage,
    {
      path: oldPath,
    } as RootPath,
  );
  assert.ok(file);
  t.after(() => file.close());
  assert.equal(store.counters.hits, 1, 'the old file is known');
  const inner = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(inner, 'k', {
    size: SIZE,
    mtimeMs: 0,
    chunkBytes: CHUNK,
    fresh: true,
    durableBatchBytes: CHUNK,
  });
  t.after(() => partial.close());
  const rig: Rig = {
    old,
    oldPath,
    file,
    partial,
    inner,
    store,
    taken: 0,
    hashed: 0,
    done: Promise.resolve(),
  };
  const accept = partial.acceptPlacedLeaves.bind(partial);
  partial.acceptPlacedLeaves = (offset, hashes, stream) => {
    rig.taken += hashes.length;
    accept(offset, hashes, stream);
  };
  made.rig = rig;
  const started = file.startSignature(io, 1, partial, SIZE);
  assert.ok(started.placing);
  rig.done = started.done.then(() => {
    rig.hashed = SIGNING_COUNTERS.hashedLeaves - hashedBefore;
  });
  return rig;
}

/** Copies every chunk in place as the client's PUT_COPY would, each checked against `expected`'s chunk hash. */
async function copyAll(r: Rig, expected: Buffer): Promise<number[]> {
  const mismatched: number[] = [];
  for (let index = 0; index < CHUNKS; index++) {
    const offset = index * CHUNK;
    const length = Math.min(CHUNK, SIZE - offset);
    await r.file.copyInto(r.partial, { type: 'PUT_COPY', ref: 1, offset, oldOffset: offset, length }, r);
    try {
      r.partial.completeChunk(index, chunkHashOf(expected.subarray(offset, offset + length)), r);
    } catch (err) {
      if (!isFerryError(err, 'CHUNK_MISMATCH')) throw err;
      mismatched.push(index);
    }
  }
  return mismatched;
}

async function finished(r: Rig, expected: Buffer): Promise<Buffer> {
  const hashes = new ChunkHashes(SIZE, CHUNK);
  for (let i = 0; i < CHUNKS; i++) hashes.set(i, chunkHashOf(expected.subarray(i * CHUNK, (i + 1) * CHUNK)));
  await r.file.stopSigning();
  await r.partial.finish(hashes.digest(), 'target', { mode: 0o644, overwrite: true });
  return r.inner.placed.get('target')!.bytes;
}

test('a warm signing hashes no leaf; the placed leaves count with the known hashes and the file is the old one', async (t) => {
  const r = await warmSigning(t, () => Promise.resolve());
  await r.done;
  assert.equal(r.hashed, 0, 'no leaf hashed to sign');
  assert.deepEqual(await copyAll(r, r.old), []);
  assert.equal(r.taken, Math.floor(SIZE / LEAF_BYTES), 'every whole leaf taken as placed');
  assert.ok((await finished(r, r.old)).equals(r.old));
});

test('the old file rewritten with its own bytes while placing: nothing placed after counts, the copies hash, the file is right', async (t) => {
  // At the first record (the first piece read and placed), the bytes of leaf 100 are written again: the
  // content stays, the identity (ctime) moves.
  const r = await warmSigning(t, async (record, rig) => {
    if (record.firstBlock !== 0) return;
    const handle = await open(rig.oldPath, 'r+');
    await handle.write(rig.old, 100 * LEAF_BYTES, LEAF_BYTES, 100 * LEAF_BYTES);
    await handle.close();
  });
  await r.done;
  assert.deepEqual(await copyAll(r, r.old), [], 'every chunk verified from the bytes read and hashed');
  assert.ok(r.taken <= 2 * 64, `only leaves placed before the change could count (${r.taken})`);
  assert.ok((await finished(r, r.old)).equals(r.old), 'byte-exact');
});

test('the old file changed while placing: a copy served while signing takes no leaf placed after the change, and fails CHUNK_MISMATCH', async (t) => {
  const changedLeaf = 200; // in the fourth piece (leaves 192-255), read after the change
  const chunk = Math.floor((changedLeaf * LEAF_BYTES) / CHUNK);
  let whileSigning: string | undefined;
  const r = await warmSigning(t, async (record, rig) => {
    if (record.firstBlock === 0) {
      const handle = await open(rig.oldPath, 'r+');
      await handle.write(randomBytes(LEAF_BYTES), 0, LEAF_BYTES, changedLeaf * LEAF_BYTES);
      await handle.close();
    }
    if (record.firstBlock !== 192) return;
    // The client's copy of that chunk, served while the signing goes on (its piece was read and placed):
    // the client asked for the old file as the store knew it.
    const offset = chunk * CHUNK;
    await rig.file.copyInto(
      rig.partial,
      { type: 'PUT_COPY', ref: 1, offset, oldOffset: offset, length: CHUNK },
      rig,
    );
    try {
      rig.partial.completeChunk(chunk, chunkHashOf(rig.old.subarray(offset, offset + CHUNK)), rig);
      whileSigning = 'verified';
    } catch (err) {
      whileSigning = isFerryError(err, 'CHUNK_MISMATCH') ? 'CHUNK_MISMATCH' : String(err);
    }
  });
  await r.done;
  assert.equal(whileSigning, 'CHUNK_MISMATCH', 'the changed bytes are never counted with the known hash');
  assert.ok(r.taken <= 2 * 64, `only leaves placed before the change could count (${r.taken})`);
  assert.deepEqual(await copyAll(r, r.old), [chunk], 'the other chunks verify from the bytes read');
});

test('a signing of a file known with its weak checksums, with nothing to place, reads nothing and sends the cold signature', async (t) => {
  const dir = await makeTempDir('ferry-delta-known-');
  t.after(() => removeTempDir(dir));
  const old = randomBytes(SIZE);
  const oldPath = join(dir, 'old.bin');
  await writeFile(oldPath, old);
  const store = new KnownLeafHashes(join(dir, 'leaves'));
  const leaves = new ChunkHashes(SIZE, LEAF_BYTES);
  const weak = new Uint32Array(leaves.count);
  for (let i = 0; i < leaves.count; i++) {
    const leaf = old.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES);
    leaves.set(i, leafHash(leaf));
    weak[i] = weakChecksum(leaf, 0, leaf.length);
  }
  const probe = await SourceFile.open(oldPath);
  await store.record(oldPath, probe.identity, leaves, weak);
  await probe.close();
  const records: DeltaBlocksMessage[] = [];
  const io = {
    may: () => true,
    clientKey: Buffer.alloc(32, 1),
    ctx: { hashCache: new FileHashCache(), deltaMemory: new DeltaMemory(), knownLeafHashes: store },
    send: (record: DeltaBlocksMessage) => {
      records.push(record);
      return Promise.resolve();
    },
  } as unknown as SessionIo;
  const file = await DeltaOldFile.open(
    io,
    { delta: true, size: SIZE + 1024 } as PutOfferMessage,
    {
      path: oldPath,
    } as RootPath,
  );
  assert.ok(file);
  t.after(() => file.close());
  const partial = await PartialTransfer.open(new MemoryPartialStore<string>(), 'k', {
    size: SIZE + 1024,
    mtimeMs: 0,
    chunkBytes: CHUNK,
    fresh: true,
  });
  t.after(() => partial.close());
  const before = { ...SIGNING_COUNTERS };
  // Another size (an insertion): nothing is placed, so nothing of the old file is wanted while signing.
  const started = file.startSignature(io, 1, partial, SIZE + 1024);
  assert.equal(started.placing, false);
  await started.done;
  assert.equal(SIGNING_COUNTERS.readLeaves - before.readLeaves, 0, 'no leaf read');
  assert.equal(SIGNING_COUNTERS.hashedLeaves - before.hashedLeaves, 0, 'no leaf hashed');
  // The very records a cold signing sends: every block's weak checksum and strong hash.
  const cold = deltaSignatureOf(old, LEAF_BYTES);
  const weakSent = Buffer.concat(
    records.map((r) => Buffer.from(r.weak.buffer, r.weak.byteOffset, r.weak.byteLength)),
  );
  assert.ok(
    weakSent.equals(Buffer.from(cold.weak.buffer, cold.weak.byteOffset, cold.weak.byteLength)),
    'weak checksums',
  );
  assert.ok(Buffer.concat(records.map((r) => r.strong)).equals(cold.strong), 'strong hashes');
});
