// takeLeaves (PROTOCOL.md §5.17.3) scanning while the signature arrives: each window waits only for the
// blocks up to a little past its end, and what stayed unmatched is scanned again once the signature is whole,
// so the leaves taken are exactly those of a scan of the whole signature: in place, shifted by an insertion,
// after new data (found only by the second scan), identical.
// A real old file; the partial in memory (the port's conformance-tested store).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { takeLeaves, type SignatureArrival } from '../../src/client/delta-download.js';
import { ChunkHashes, LEAF_BYTES, deltaSignatureOf, leafHash } from '../../src/protocol/index.js';
import { MemoryPartialStore, PartialTransfer, SourceFile } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** 70 leaves: two 4 MiB scan windows. */
const LEAVES = 70;
const old = randomBytes(LEAVES * LEAF_BYTES + 777);
/** Leaves of new data: enough that a window's first wait (its own leaves and 64 more) is not the whole signature. */
const NEW_LEAVES = 130;

function digestOf(file: Buffer): Buffer {
  const hashes = new ChunkHashes(file.length, LEAF_BYTES);
  for (let leaf = 0; leaf < hashes.count; leaf++)
    hashes.set(leaf, leafHash(file.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES)));
  return hashes.digest();
}

/** Hands out no more of the signature than asked for, so every window scans with part of it. */
function meagre(digest: Buffer, asked: number[]): SignatureArrival {
  return {
    waitFor: (blocks) => {
      asked.push(blocks);
      return Promise.resolve(blocks);
    },
    digest: () => Promise.resolve(digest),
  };
}

const cases: Array<{ name: string; served: Buffer; held: number; identical: boolean }> = [
  {
    // The old file's leaves are the server's last: found only by the scan again, once the signature is whole.
    name: 'after 130 new leaves',
    served: Buffer.concat([randomBytes(NEW_LEAVES * LEAF_BYTES), old.subarray(0, LEAVES * LEAF_BYTES)]),
    held: LEAVES,
    identical: false,
  },
  {
    name: 'rewritten in place, 130 new leaves after',
    served: (() => {
      const b = Buffer.concat([old.subarray(0, LEAVES * LEAF_BYTES), randomBytes(NEW_LEAVES * LEAF_BYTES)]);
      randomBytes(1000).copy(b, 30 * LEAF_BYTES + 5);
      return b;
    })(),
    held: LEAVES - 1,
    identical: false,
  },
  {
    name: '1 KiB inserted near the start, 130 new leaves after',
    served: Buffer.concat([
      old.subarray(0, 3000),
      randomBytes(1024),
      old.subarray(3000, LEAVES * LEAF_BYTES),
      randomBytes(NEW_LEAVES * LEAF_BYTES),
    ]),
    held: LEAVES - 1,
    identical: false,
  },
  { name: 'identical', served: old, held: 0, identical: true },
];

for (const c of cases) {
  test(`takeLeaves while the signature arrives, ${c.name}: the leaves a whole signature finds`, async (t) => {
    const dir = await makeTempDir('ferry-arriving-');
    t.after(() => removeTempDir(dir));
    const path = join(dir, 'old.bin');
    await writeFile(path, old);
    const signature = deltaSignatureOf(c.served, LEAF_BYTES);
    const digest = digestOf(c.served);
    const run = async (
      arriving: boolean,
      asked: number[],
    ): Promise<{ held: number[]; identical: boolean }> => {
      const source = await SourceFile.open(path, { noFollow: true });
      const partial = await PartialTransfer.open(new MemoryPartialStore<string>(), 'k', {
        size: c.served.length,
        mtimeMs: 0,
        chunkBytes: LEAF_BYTES,
        fresh: true,
        durableBatchBytes: LEAF_BYTES,
      });
      try {
        const taken = arriving
          ? await takeLeaves(source, { signature }, partial, meagre(digest, asked))
          : await takeLeaves(source, { signature, digest }, partial);
        const held: number[] = [];
        for (let leaf = 0; leaf < taken.held.count; leaf++) if (taken.held.has(leaf)) held.push(leaf);
        return { held, identical: taken.identical };
      } finally {
        await partial.close();
        await source.close();
      }
    };
    const asked: number[] = [];
    const whole = await run(false, []);
    const arriving = await run(true, asked);
    // Every case but the identical (a signature of 71 blocks, waited for whole) scans on part of it first.
    if (!c.identical)
      assert.ok(asked.length > 1 && asked[0]! < signature.weak.length, `scanned on part: ${asked.join()}`);
    assert.deepEqual(arriving, whole);
    assert.equal(arriving.identical, c.identical);
    assert.equal(arriving.held.length, c.held);
  });
}
