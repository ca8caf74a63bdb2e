// A PartialTransfer opened without `onDurable` (it is optional: `PartialTransferOptions`, a delta download's
// `ScanOptions`) still counts its batches as held once the store made them durable: the receiver machine alone
// says what is held (`verifiedBytes`, `heldRanges`, `heldDigest`: what PUT_ACCEPT claims, and what a delta's
// "holding nothing" checks read before they let writes through onto the partial), and `onDurable` only
// listens. Before, the machine heard of a batch inside the listener's optional call (`onDurable?.(machine
// .durable(batch))`), which skips its argument when there is no listener: the held bytes stayed 0. A real
// file store on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { chunkHashOf } from '../../src/protocol/index.js';
import { FilePartialStore, PartialTransfer } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK_BYTES = 64 * 1024;
const CHUNKS = 4;
const SIZE = CHUNKS * CHUNK_BYTES;

for (const listener of [false, true]) {
  test(`PartialTransfer holds its durable batches ${listener ? 'with' : 'without'} an onDurable listener`, async (t) => {
    const dir = await makeTempDir('ferry-durable-listener-');
    t.after(() => removeTempDir(dir));
    const files = new FilePartialStore<string>({
      pathsOf: () => ({ dataPath: join(dir, 'f.part'), logPath: join(dir, 'f.state') }),
    });
    const content = randomBytes(SIZE);
    const chunk = (i: number): Buffer => content.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
    const heard: number[] = [];
    // One chunk a batch: each completed chunk is made durable on its own.
    const partial = await PartialTransfer.open(files, 'f', {
      size: SIZE,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: CHUNK_BYTES,
      fresh: true,
      durableBatchBytes: CHUNK_BYTES,
      ...(listener ? { onDurable: (bytes: number) => heard.push(bytes) } : {}),
    });
    t.after(() => partial.close());
    for (const i of [0, 1]) {
      await partial.writeData(i * CHUNK_BYTES, chunk(i));
      partial.completeChunk(i, chunkHashOf(chunk(i)));
    }
    // Queued behind the two make-durable batches: resolves once both are durable and logged.
    await partial.syncWritten();
    assert.equal(partial.verifiedBytes, 2 * CHUNK_BYTES, 'both durable batches are held');
    assert.deepEqual(partial.heldRanges(), [{ first: 0, count: 2 }]);
    assert.notDeepEqual(partial.heldDigest(), Buffer.alloc(32), 'the held digest covers them');
    assert.deepEqual(heard, listener ? [CHUNK_BYTES, 2 * CHUNK_BYTES] : []);
  });
}
