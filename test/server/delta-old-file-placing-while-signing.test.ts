// A same-size delta upload's server places the old file's leaves while it signs them AND serves the session's
// PUT_DATA and PUT_COPY meanwhile (issue 16: it waited for its whole signing first). The per-leaf rule is
// LeafPlacing's (src/machines/leaf-placing.ts): arrived data wins, a leaf counts once placed and landed.
// These tests drive the real DeltaOldFile over a real old file and a real PartialTransfer (memory store,
// whose placed file is read back byte for byte); the session is reduced to what the signing uses.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeltaOldFile } from '../../src/server/delta-old-file.js';
import { DeltaMemory } from '../../src/server/delta-memory.js';
import { FileHashCache } from '../../src/server/file-hash-cache.js';
import type { SessionIo } from '../../src/server/session-io.js';
import {
  ChunkHashes,
  LEAF_BYTES,
  chunkHashOf,
  type DeltaBlocksMessage,
  type PutOfferMessage,
} from '../../src/protocol/index.js';
import {
  MemoryPartialStore,
  PartialTransfer,
  type PartialStore,
  type RootPath,
} from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** 16 MiB and more: the signature is in leaves (§5.15.2), one record per 64 leaves read. */
const SIZE = 16 * 1024 * 1024 + 4321;
const CHUNK = 4 * LEAF_BYTES;
const RECORD_LEAVES = 64;

/**
 * A memory store whose writes from shared memory (the signing's buffers: placing writes) wait while `held`
 * is set, so a test can hold a placing write in flight; other writes (a test's own data) go through.
 */
class GatedStore {
  readonly inner = new MemoryPartialStore<string>();
  #held: Promise<void> | undefined;
  #release: () => void = () => undefined;
  heldWrites = 0;

  hold(): void {
    this.#held = new Promise<void>((resolve) => (this.#release = resolve));
  }

  release(): void {
    this.#held = undefined;
    this.#release();
  }

  asStore(): PartialStore<string, string> {
    return {
      inspect: (key) => this.inner.inspect(key),
      open: async (key, header, options) => {
        const stored = await this.inner.open(key, header, options);
        return new Proxy(stored, {
          get: (target, prop) => {
            if (prop === 'write')
              return async (offset: number, data: Buffer) => {
                const held = this.#held;
                if (held !== undefined && data.buffer instanceof SharedArrayBuffer) {
                  this.heldWrites++;
                  await held;
                }
                await target.write(offset, data);
              };
            const value = Reflect.get(target, prop, target) as unknown;
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      },
    };
  }
}

interface Rig {
  old: Buffer;
  file: DeltaOldFile;
  store: GatedStore;
  partial: PartialTransfer<string>;
  /** Leaves the partial took as placed (`acceptPlacedLeaves`), instead of bytes written. */
  taken: number;
  /** Settles when the signing is over. */
  done: Promise<void>;
}

/**
 * Opens the old file as a delta upload's server does and starts signing it onto a fresh partial of the same
 * size; `onRecord` runs as each DELTA_BLOCKS record is sent, and the signing waits for it.
 */
async function signing(
  t: TestContext,
  onRecord: (record: DeltaBlocksMessage, rig: Rig) => Promise<void>,
  hold = false,
): Promise<Rig> {
  const dir = await makeTempDir('ferry-delta-placing-');
  t.after(() => removeTempDir(dir));
  const old = randomBytes(SIZE);
  const oldPath = join(dir, 'old.bin');
  await writeFile(oldPath, old);
  // Made once the file and partial are open; the signing's sends start after.
  const made: { rig?: Rig } = {};
  const io = {
    may: () => true,
    clientKey: Buffer.alloc(32, 1),
    ctx: { hashCache: new FileHashCache(), deltaMemory: new DeltaMemory() },
    send: (record: DeltaBlocksMessage) => onRecord(record, made.rig!),
  } as unknown as SessionIo;
  const file = await DeltaOldFile.open(
    io,
    { delta: true, size: SIZE } as PutOfferMessage,
    {
      path: oldPath,
    } as RootPath,
  );
  assert.ok(file, 'the old file is open for the delta');
  t.after(() => file.close());
  const store = new GatedStore();
  const partial = await PartialTransfer.open(store.asStore(), 'k', {
    size: SIZE,
    mtimeMs: 0,
    chunkBytes: CHUNK,
    fresh: true,
    durableBatchBytes: CHUNK,
  });
  t.after(() => partial.close());
  const accept = partial.acceptPlacedLeaves.bind(partial);
  partial.acceptPlacedLeaves = (offset, hashes, stream) => {
    made.rig!.taken += hashes.length;
    accept(offset, hashes, stream);
  };
  const rig: Rig = { old, file, store, partial, taken: 0, done: Promise.resolve() };
  made.rig = rig;
  // Placing writes held until a test releases them (none of the first two tests holds).
  if (hold) store.hold();
  const started = file.startSignature(io, 1, partial, SIZE);
  assert.ok(started.placing, 'an offer of the old size places while signing');
  rig.done = started.done;
  return rig;
}

/** Copies chunk `index` in place (one PUT_COPY) and closes it with the hash of `expected`'s chunk. */
async function copyChunk(r: Rig, index: number, expected: Buffer): Promise<void> {
  const offset = index * CHUNK;
  const length = Math.min(CHUNK, SIZE - offset);
  await r.file.copyInto(r.partial, { type: 'PUT_COPY', ref: 1, offset, oldOffset: offset, length }, r);
  r.partial.completeChunk(index, chunkHashOf(expected.subarray(offset, offset + length)), r);
}

/** Writes `data` at `offset` as the session does a PUT_DATA of a delta upload (upload-receiver.ts). */
async function putData(r: Rig, offset: number, data: Buffer): Promise<void> {
  await r.file.arrive(offset, data.length);
  await r.partial.writeData(offset, data, r);
}

/** Copies in place every chunk not in `skip`, finishes, and returns the file placed. */
async function finish(r: Rig, expected: Buffer, skip: ReadonlySet<number>): Promise<Buffer> {
  const hashes = new ChunkHashes(SIZE, CHUNK);
  for (let index = 0; index * CHUNK < SIZE; index++) {
    if (!skip.has(index)) await copyChunk(r, index, expected);
    hashes.set(index, chunkHashOf(expected.subarray(index * CHUNK, Math.min(SIZE, (index + 1) * CHUNK))));
  }
  await r.file.stopSigning();
  await r.partial.finish(hashes.digest(), 'target', { mode: 0o644, overwrite: true });
  return r.store.inner.placed.get('target')!.bytes;
}

test('copies in place are served while the old file is signed, taking the leaves placed: each once, and the file is the old one', async (t) => {
  let takenWhileSigning = 0;
  const r = await signing(t, async (record, rig) => {
    // The copies of the leaves this record names, before the signing reads on (it waits for this send).
    if (record.firstBlock !== 0) return;
    for (let index = 0; index < RECORD_LEAVES / 4; index++) await copyChunk(rig, index, rig.old);
    takenWhileSigning = rig.taken;
  });
  await r.done;
  assert.equal(
    takenWhileSigning,
    RECORD_LEAVES,
    "the first record's leaves were taken as placed while signing",
  );
  const placed = await finish(r, r.old, new Set(Array.from({ length: RECORD_LEAVES / 4 }, (_, i) => i)));
  assert.ok(placed.equals(r.old), 'the file placed is the old file, byte-exact');
  // Every whole leaf taken once (the short last leaf is copied).
  assert.equal(r.taken, Math.floor(SIZE / LEAF_BYTES));
});

test('data arriving before the signing reaches its leaf wins: that leaf is never placed over it', async (t) => {
  const junk = randomBytes(LEAF_BYTES);
  // A chunk's first leaf (its data comes in order) in the second piece, not read when the first record is sent.
  const leaf = RECORD_LEAVES + 4;
  const r = await signing(t, async (record, rig) => {
    if (record.firstBlock === 0) await putData(rig, leaf * LEAF_BYTES, junk);
  });
  await r.done;
  const expected = Buffer.from(r.old);
  junk.copy(expected, leaf * LEAF_BYTES);
  const chunk = Math.floor((leaf * LEAF_BYTES) / CHUNK);
  // The rest of that chunk copied in place, around the arrived leaf.
  for (const other of [0, 1, 2, 3].map((i) => chunk * 4 + i).filter((l) => l > leaf))
    await r.file.copyInto(
      r.partial,
      {
        type: 'PUT_COPY',
        ref: 1,
        offset: other * LEAF_BYTES,
        oldOffset: other * LEAF_BYTES,
        length: LEAF_BYTES,
      },
      r,
    );
  r.partial.completeChunk(chunk, chunkHashOf(expected.subarray(chunk * CHUNK, (chunk + 1) * CHUNK)), r);
  const placed = await finish(r, expected, new Set([chunk]));
  assert.ok(
    placed.equals(expected),
    'the arrived leaf is in the file placed, not the old leaf placed over it',
  );
});

test('data arriving over a leaf whose placing write is in flight waits for it, so the arrived bytes stay', async (t) => {
  const junk = randomBytes(LEAF_BYTES);
  let waited = false;
  const r = await signing(
    t,
    async (record, rig) => {
      if (record.firstBlock !== RECORD_LEAVES) return;
      // The second piece's placing write (leaves 64-127) is handed out before this record is sent: held.
      const leaf = RECORD_LEAVES; // a chunk's first leaf
      assert.ok(rig.store.heldWrites > 0, 'a placing write is held in flight');
      let landed = false;
      const arriving = putData(rig, leaf * LEAF_BYTES, junk).then(() => (landed = true));
      // One turn of the event loop: a write not waiting for the placing would be done by now.
      await new Promise<void>((resolve) => setImmediate(resolve));
      waited = !landed;
      rig.store.release();
      await arriving;
    },
    true,
  );
  await r.done;
  assert.ok(waited, 'the arrival waited for the placing write in flight');
  const leaf = RECORD_LEAVES; // a chunk's first leaf
  const expected = Buffer.from(r.old);
  junk.copy(expected, leaf * LEAF_BYTES);
  const chunk = Math.floor((leaf * LEAF_BYTES) / CHUNK);
  for (const other of [0, 1, 2, 3].map((i) => chunk * 4 + i).filter((l) => l > leaf))
    await r.file.copyInto(
      r.partial,
      {
        type: 'PUT_COPY',
        ref: 1,
        offset: other * LEAF_BYTES,
        oldOffset: other * LEAF_BYTES,
        length: LEAF_BYTES,
      },
      r,
    );
  r.partial.completeChunk(chunk, chunkHashOf(expected.subarray(chunk * CHUNK, (chunk + 1) * CHUNK)), r);
  const placed = await finish(r, expected, new Set([chunk]));
  assert.ok(
    placed.equals(expected),
    'the arrived leaf is in the file placed, not the old one landed after it',
  );
});
