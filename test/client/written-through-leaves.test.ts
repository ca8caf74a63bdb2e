// The rule of taking leaves the leaf hash thread wrote through (src/client/written-through-leaves.ts), with
// the scan's parts as records of what they were asked: which leaves it takes, what it waits for first, and
// when it takes none. A whole delta download that takes them: test/client/delta-download-write-through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkHashes, LEAF_BYTES, type DeltaOp } from '../../src/protocol/index.js';
import type { LeafTable } from '../../src/client/old-leaf-tables.js';
import { WrittenThroughLeaves } from '../../src/client/written-through-leaves.js';

const LEAVES = 8;

/** Leaf `i`'s hash in the old file; the server's is the same unless `edited` names it. */
const leafHash = (i: number): Buffer => Buffer.alloc(32, i + 1);

interface Rig {
  readonly leaves: WrittenThroughLeaves;
  /** What the parts were asked, in order. */
  readonly asked: string[];
  readonly ops: DeltaOp[];
}

function rig(
  options: {
    /** The leaves that are not the server's. */
    edited?: readonly number[];
    /** Leaves the thread hashed (all by default). */
    hashedLeaves?: number;
    writtenLeaves?: number;
    knownBlocks?: number;
    totalBlocks?: number;
    endLeaves?: number;
    table?: Partial<LeafTable> | 'changed';
    phase?: number;
    stopped?: boolean;
  } = {},
): Rig {
  const asked: string[] = [];
  const ops: DeltaOp[] = [];
  const hashes = new ChunkHashes(LEAVES * LEAF_BYTES, LEAF_BYTES);
  for (let i = 0; i < (options.hashedLeaves ?? LEAVES); i++) hashes.set(i, leafHash(i));
  const hashing = {
    hashes,
    hashedThrough: (leaves: number): Promise<void> => {
      asked.push(`hashedThrough ${leaves}`);
      return Promise.resolve();
    },
    writtenLeaves: options.writtenLeaves ?? LEAVES,
    writtenThrough: (leaves: number): Promise<void> => {
      asked.push(`writtenThrough ${leaves}`);
      return Promise.resolve();
    },
  };
  const leaves = new WrittenThroughLeaves({
    gate: {
      hashing: options.stopped ? undefined : hashing,
      endLeaves: options.endLeaves ?? LEAVES,
    },
    tables: {
      afterRead: (end) => {
        asked.push(`afterRead ${end / LEAF_BYTES}`);
        if (options.table === 'changed') return Promise.resolve(undefined);
        return Promise.resolve({ hashes, through: LEAVES, stored: false, ...options.table });
      },
    },
    matcher: {
      knownBlocks: options.knownBlocks ?? LEAVES,
      holdsLeaf: (block, hash) => !options.edited?.includes(block) && leafHash(block).equals(hash),
      foundWithoutScan: (block) => asked.push(`foundWithoutScan ${block}`),
    },
    totalBlocks: options.totalBlocks ?? LEAVES,
    found: {
      takeWrittenThrough: (first, count, table) => {
        assert.equal(table, hashes, 'the hashes vouched for');
        asked.push(`take ${first}+${count}`);
        return count;
      },
    },
    sources: { add: (added) => ops.push(...added) },
    hashesAhead: { phase: options.phase },
  });
  return { leaves, asked, ops };
}

test('WrittenThroughLeaves takes the leaves in place up to the first not the server’s, after their writes landed and the identity held', async () => {
  const { leaves, asked, ops } = rig({ edited: [5] });
  assert.equal(await leaves.take(LEAF_BYTES, 4 * 1024 * 1024), 4);
  // The identity check is asked after the thread's writes landed: it vouches for the bytes they placed.
  assert.deepEqual(asked, [
    'hashedThrough 2',
    'writtenThrough 8',
    'afterRead 8',
    'take 1+4',
    'foundWithoutScan 4',
  ]);
  assert.deepEqual(ops, [{ newOffset: LEAF_BYTES, length: 4 * LEAF_BYTES, oldOffset: LEAF_BYTES }]);
});

test('WrittenThroughLeaves takes no leaf past what the thread wrote, the table vouches for, the signature holds or the gate bounds', async () => {
  const limits = [
    { writtenLeaves: 3 },
    { table: { through: 3 } },
    { knownBlocks: 3 },
    { endLeaves: 3 },
  ] as const;
  for (const limit of limits) {
    const { leaves, ops } = rig(limit);
    assert.equal(await leaves.take(0, LEAVES * LEAF_BYTES), 3, JSON.stringify(limit));
    assert.equal(ops[0]!.length, 3 * LEAF_BYTES, JSON.stringify(limit));
  }
});

test('WrittenThroughLeaves takes none when the old file changed, or its hashes came from the store', async () => {
  for (const table of ['changed', { stored: true }] as const) {
    const { leaves, asked, ops } = rig({ table });
    assert.equal(await leaves.take(0, LEAVES * LEAF_BYTES), 0);
    assert.deepEqual(asked, ['hashedThrough 1', 'writtenThrough 8', 'afterRead 8'], JSON.stringify(table));
    assert.deepEqual(ops, []);
  }
});

test('WrittenThroughLeaves asks nothing off the leaf boundaries, at another phase, or once the thread was stopped', async () => {
  const cases = [
    { at: 100, options: {} },
    { at: 0, options: { phase: 1 } },
    { at: 0, options: { stopped: true } },
    { at: LEAVES * LEAF_BYTES, options: {} },
  ];
  for (const { at, options } of cases) {
    const { leaves, asked, ops } = rig(options);
    assert.equal(await leaves.take(at, LEAVES * LEAF_BYTES), 0, JSON.stringify({ at, options }));
    assert.deepEqual([asked, ops], [[], []]);
  }
});

test('WrittenThroughLeaves takes none, and asks for no identity check, when the first leaf is not the server’s', async () => {
  const { leaves, asked } = rig({ edited: [0] });
  assert.equal(await leaves.take(0, LEAVES * LEAF_BYTES), 0);
  // An edit: the scan reads from here without waiting for the thread to write a batch past it.
  assert.deepEqual(asked, ['hashedThrough 1']);
});

test('WrittenThroughLeaves.editedInPlace counts the leaves before the next one in place that is the server’s, once the thread hashed them', async () => {
  const { leaves, asked } = rig({ edited: [2, 3, 4], totalBlocks: 2 * LEAVES });
  assert.equal(await leaves.editedInPlace(2 * LEAF_BYTES, 4), 3);
  // The span looked at is bounded by the leaves asked for, the gate and the signature arrived.
  assert.deepEqual(asked, ['hashedThrough 6']);
  assert.equal(
    await rig({ edited: [2], totalBlocks: 2 * LEAVES }).leaves.editedInPlace(2 * LEAF_BYTES, 64),
    1,
  );
});

test('WrittenThroughLeaves.editedInPlace finds no edit with the signature whole, none in place within the span, or a leaf not hashed', async () => {
  const cases = [
    { from: LEAF_BYTES, within: 64, options: { edited: [1] } },
    { from: LEAF_BYTES, within: 3, options: { edited: [1, 2, 3], totalBlocks: 2 * LEAVES } },
    { from: LEAF_BYTES, within: 64, options: { edited: [1, 2, 3, 4, 5, 6, 7], totalBlocks: 2 * LEAVES } },
    { from: LEAF_BYTES, within: 64, options: { edited: [1, 2], hashedLeaves: 2, totalBlocks: 2 * LEAVES } },
  ];
  for (const { from, within, options } of cases)
    assert.equal(await rig(options).leaves.editedInPlace(from, within), 0, JSON.stringify(options));
});

test('WrittenThroughLeaves.editedInPlace asks nothing off the leaf boundaries, at another phase, once the thread was stopped, or for a last leaf', async () => {
  const cases = [
    { at: 100, options: {} },
    { at: 0, options: { phase: 1 } },
    { at: 0, options: { stopped: true } },
    { at: (LEAVES - 1) * LEAF_BYTES, options: {} },
  ];
  for (const { at, options } of cases) {
    const { leaves, asked } = rig({ ...options, edited: [0, 7], totalBlocks: 2 * LEAVES });
    assert.equal(await leaves.editedInPlace(at, 64), 0, JSON.stringify({ at, options }));
    assert.deepEqual(asked, [], JSON.stringify({ at, options }));
  }
});
