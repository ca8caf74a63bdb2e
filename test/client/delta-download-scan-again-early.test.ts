// takeLeaves (PROTOCOL.md §5.17.3) when the signature is whole before the scan's end (the scan lags the
// signing, as a 1 GiB download's does): what an early window left unmatched is scanned again right then,
// between two windows, not after the last one (issue 16: the second scan of the rewritten ranges was on the
// download's critical path, after the whole file was read). The leaves taken are those of a scan of the
// whole signature. A real old file; the partial in memory (the port's conformance-tested store).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { takeLeaves, type OldFile, type SignatureArrival } from '../../src/client/delta-download.js';
import { ChunkHashes, LEAF_BYTES, deltaSignatureOf, leafHash } from '../../src/protocol/index.js';
import { SourceFile } from '../../src/transfer/index.js';
import { memoryLeafPartial } from '../helpers/memory-leaf-partial.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** Four 4 MiB scan windows, the last one short. */
const LEAVES = 250;
/** The leaf rewritten in the server's file, in the first window (scanned on part of the signature). */
const REWRITTEN = 10;
const WINDOW_BYTES = 4 * 1024 * 1024;

function digestOf(file: Buffer): Buffer {
  const hashes = new ChunkHashes(file.length, LEAF_BYTES);
  for (let leaf = 0; leaf < hashes.count; leaf++)
    hashes.set(leaf, leafHash(file.subarray(leaf * LEAF_BYTES, (leaf + 1) * LEAF_BYTES)));
  return hashes.digest();
}

test('takeLeaves scans again what an early window left unmatched once the signature is whole, before the last window', async (t) => {
  const dir = await makeTempDir('ferry-scan-again-');
  t.after(() => removeTempDir(dir));
  const oldBytes = randomBytes(LEAVES * LEAF_BYTES + 300);
  const served = Buffer.from(oldBytes);
  randomBytes(LEAF_BYTES).copy(served, REWRITTEN * LEAF_BYTES);
  const path = join(dir, 'old.bin');
  await writeFile(path, oldBytes);
  const signature = deltaSignatureOf(served, LEAF_BYTES);
  const total = signature.weak.length;
  const digest = digestOf(served);
  const run = async (arriving: boolean, reads: number[]): Promise<number[]> => {
    const source = await SourceFile.open(path, { noFollow: true });
    const old: OldFile = {
      size: source.size,
      assertUnchanged: () => source.assertUnchanged(),
      readExactly: async (buffer, offset, length, position) => {
        reads.push(position);
        await source.readExactly(buffer, offset, length, position);
      },
    };
    // The first window scans on the part it asked for; from the second wait on, the signature is whole.
    let waits = 0;
    const arrival: SignatureArrival = {
      waitFor: (blocks) => Promise.resolve(waits++ === 0 ? blocks : total),
      digest: () => Promise.resolve(digest),
    };
    const partial = await memoryLeafPartial(served.length);
    try {
      const taken = arriving
        ? await takeLeaves(old, { signature }, partial, arrival)
        : await takeLeaves(old, { signature, digest }, partial);
      assert.equal(taken.identical, false);
      const held: number[] = [];
      for (let leaf = 0; leaf < taken.held.count; leaf++) if (taken.held.has(leaf)) held.push(leaf);
      return held;
    } finally {
      await partial.close();
      await source.close();
    }
  };
  const whole = await run(false, []);
  const reads: number[] = [];
  const arriving = await run(true, reads);
  assert.deepEqual(arriving, whole);
  assert.equal(arriving.length, LEAVES);
  assert.ok(!arriving.includes(REWRITTEN));
  // The first pass reads each window once, in order; the rewritten leaf's range is read again (a read
  // starting at it, inside the first window) before the last window is read.
  const again = reads.findIndex((at, i) => i > 0 && at < reads[i - 1]! && at < WINDOW_BYTES);
  const lastWindow = reads.indexOf(3 * WINDOW_BYTES);
  assert.ok(again >= 0, `scanned again: reads at ${reads.join()}`);
  assert.ok(lastWindow >= 0, `reads at ${reads.join()}`);
  assert.ok(again < lastWindow, `scanned again before the last window: reads at ${reads.join()}`);
});
