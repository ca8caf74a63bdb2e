// A delta download's scan (scanOldFile, PROTOCOL.md §5.17.3) makes the leaves it takes from the old file
// durable in batches 4 times the client's (`deltaDurableBatchBytes`), as a delta upload's server does: each
// batch is a sync of the data and one of the log, and the leaves are verified at the speed of memory (issue
// 16: ~95 syncs for 1 GiB). Seen through `onDurable`, which counts durable bytes only. A real old file and
// the real partial beside it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadPartialsFrom } from '../../src/client/download-partials.js';
import {
  openForScan,
  scanOldFile,
  type OldFileScan,
  type ScanOptions,
} from '../../src/client/old-file-scans.js';
import { LEAF_BYTES, deltaSignatureOf } from '../../src/protocol/index.js';
import { resolveUnderRoot } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const LEAVES = 40;

/** Scans an old file of LEAVES leaves whose first the server changed, with `options`; the partial closed. */
async function scanChanged(
  t: TestContext,
  options: ScanOptions,
): Promise<Extract<OldFileScan, { kind: 'taken' }>> {
  const dir = await makeTempDir('ferry-scan-durable-');
  t.after(() => removeTempDir(dir));
  const old = randomBytes(LEAVES * LEAF_BYTES);
  // The first leaf differs: every other leaf is taken (written and verified) as the scan finds it.
  const served = Buffer.from(old);
  randomBytes(LEAF_BYTES).copy(served, 0);
  await writeFile(join(dir, 'f'), old);
  const target = await resolveUnderRoot(dir, ['f'], { createDirs: false });
  const scanned = await scanOldFile(
    openForScan(downloadPartialsFrom(Buffer.alloc(32)), target, { size: served.length }, LEAF_BYTES, options),
    // Its digest is not this one: the old file is not taken for the server's.
    { signature: deltaSignatureOf(served, LEAF_BYTES), digest: Buffer.alloc(32) },
    undefined,
  );
  assert.equal(scanned.kind, 'taken');
  if (scanned.kind !== 'taken') throw new Error('unreachable');
  await scanned.partial.close();
  await scanned.old.close();
  assert.equal(scanned.taken.held.knownCount, LEAVES - 1);
  return scanned;
}

test('a delta download’s scan makes the leaves it takes durable 4 batches of the client’s at a time', async (t) => {
  const durable: number[] = [];
  await scanChanged(t, { durableBatchBytes: LEAF_BYTES, onDurable: (bytes) => durable.push(bytes) });
  // Batches of 4 leaves as the scan goes (two may be joined when one waits for the other's syncs); the last
  // leaves, fewer than a batch, once the scan ends.
  assert.ok(durable.length > 1, `made durable as the scan goes: ${durable.join(', ')}`);
  assert.equal(durable.at(-1), (LEAVES - 1) * LEAF_BYTES);
  for (const bytes of durable.slice(0, -1))
    assert.equal(bytes % (4 * LEAF_BYTES), 0, `durable ${durable.join(', ')}: whole batches of 4 leaves`);
});

// `onDurable` is optional (`ScanOptions`): the partial holds what was made durable all the same (it once
// did only with a listener, partial-durable-without-listener.test.ts).
test('a delta download’s scan partial holds the leaves made durable without an onDurable listener', async (t) => {
  const scanned = await scanChanged(t, { durableBatchBytes: LEAF_BYTES });
  assert.equal(scanned.partial.verifiedBytes, (LEAVES - 1) * LEAF_BYTES);
  assert.deepEqual(scanned.partial.heldRanges(), [{ first: 1, count: LEAVES - 1 }]);
});
