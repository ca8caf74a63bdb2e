// A delta upload's old leaves written through by the signing's leaf hash threads (`OldLeafPlacer.writeThrough`,
// issue 16) follow LeafPlacing's rule as the event loop's placing does: a piece is claimed before its read
// only when every leaf of it is empty, all `placing` at once; data arriving there meanwhile waits until the
// write landed and wins; a leaf counts (is taken) only once landed; what failed to land counts for nothing and
// the hook places it. Driven by hand here (the thread's side is `signLeaves`'s): a real PartialTransfer (a
// memory store whose descriptor to lend is a stand-in), the old file's leaves as bytes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ChunkHashes, LEAF_BYTES, leafHash } from '../../src/protocol/index.js';
import { OldLeafPlacer } from '../../src/server/old-leaf-placer.js';
import { MemoryPartialStore, PartialTransfer } from '../../src/transfer/index.js';

/** Pieces of 4 leaves; the file of 16 MiB, the least signed in leaves (PROTOCOL.md §5.15.2). */
const PIECE = 4 * LEAF_BYTES;
const SIZE = 16 * 1024 * 1024;
const STAND_IN_FD = 1234;

interface Rig {
  placer: OldLeafPlacer;
  partial: PartialTransfer<string>;
  through: NonNullable<Awaited<ReturnType<OldLeafPlacer['writeThrough']>>>;
  signed: ChunkHashes;
  old: Buffer;
  /** The bytes the stand-in descriptor's borrower said it wrote, once given back. */
  givenBack: number[];
}

async function rig(t: TestContext): Promise<Rig> {
  const partial = await PartialTransfer.open(new MemoryPartialStore<string>(), 'k', {
    size: SIZE,
    mtimeMs: 0,
    chunkBytes: PIECE,
    fresh: true,
  });
  t.after(() => partial.close());
  const givenBack: number[] = [];
  partial.lendUnbuffered = () =>
    Promise.resolve({ fd: STAND_IN_FD, giveBack: (bytes: number) => void givenBack.push(bytes) });
  const placer = OldLeafPlacer.for(partial, SIZE, SIZE);
  assert.ok(placer, 'a same-size offer onto an empty partial places');
  const through = await placer.writeThrough(partial);
  assert.ok(through, 'the descriptor lent');
  const old = randomBytes(SIZE);
  const signed = new ChunkHashes(SIZE, LEAF_BYTES);
  for (let leaf = 0; leaf < SIZE / LEAF_BYTES; leaf++)
    signed.set(leaf, leafHash(old.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES)));
  return { placer, partial, through, signed, old, givenBack };
}

/** The leaves a copy in place of the whole first piece takes as placed. */
const takeFirstPiece = (r: Rig): Promise<Buffer[]> => r.placer.take(0, 0, PIECE, () => r.signed);

test('a piece written through: data arriving at one of its leaves waits until the write landed, wins, and is never taken', async (t) => {
  const r = await rig(t);
  assert.equal(r.through.through.claim(0, PIECE), STAND_IN_FD, 'every leaf empty: claimed');
  let arrived = false;
  const arrival = r.placer.arrive(LEAF_BYTES, 10).then(() => (arrived = true));
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(arrived, false, 'the arrival waits for the write in flight under it');
  r.through.through.landed(0, PIECE, true);
  await arrival;
  // Leaf 0 is placed; leaf 1 arrived, so a copy in place takes leaf 0 alone.
  assert.equal((await takeFirstPiece(r)).length, 1);
  assert.equal(
    (await r.placer.take(2 * LEAF_BYTES, 2 * LEAF_BYTES, 2 * LEAF_BYTES, () => r.signed)).length,
    2,
  );
  assert.equal((await takeFirstPiece(r)).length, 0, 'each leaf taken once');
  r.through.done();
  assert.deepEqual(r.givenBack, [PIECE], 'given back with the bytes written');
});

test('a piece with a leaf arrived before its read is not written through: its empty leaves are left to the hook', async (t) => {
  const r = await rig(t);
  await r.placer.arrive(2 * LEAF_BYTES, 1);
  assert.equal(r.through.through.claim(0, PIECE), undefined, 'not claimed');
  assert.equal((await takeFirstPiece(r)).length, 0, 'nothing placed');
  // The hook places the leaves still empty from the piece's bytes, not the one that arrived.
  const leaves = Array.from({ length: 4 }, (_, i) => r.old.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES));
  await r.placer.hook(r.partial)(0, leaves);
  assert.equal(
    (await takeFirstPiece(r)).length,
    2,
    'leaves 0 and 1 placed by the hook, up to the arrived one',
  );
  assert.equal((await r.placer.take(3 * LEAF_BYTES, 3 * LEAF_BYTES, LEAF_BYTES, () => r.signed)).length, 1);
  r.through.done();
  assert.deepEqual(r.givenBack, [0]);
});

test('a write through that failed counts for nothing: its leaves are not taken, no piece is claimed after it, the hook places them', async (t) => {
  const r = await rig(t);
  assert.equal(r.through.through.claim(0, PIECE), STAND_IN_FD);
  assert.equal(r.through.through.claim(PIECE, PIECE), STAND_IN_FD);
  r.through.through.landed(PIECE, PIECE, true);
  r.through.through.landed(0, PIECE, false);
  assert.equal((await takeFirstPiece(r)).length, 0, 'what failed is not taken');
  assert.equal(r.through.through.claim(0, PIECE), undefined, 'no claim after a failure');
  assert.equal((await r.placer.take(PIECE, PIECE, PIECE, () => r.signed)).length, 4, 'what landed is');
  const leaves = Array.from({ length: 4 }, (_, i) => r.old.subarray(i * LEAF_BYTES, (i + 1) * LEAF_BYTES));
  await r.placer.hook(r.partial)(0, leaves);
  assert.equal((await takeFirstPiece(r)).length, 4, 'placed by the hook');
  r.through.done();
  assert.deepEqual(r.givenBack, [PIECE], 'only the bytes that landed');
});
