// BatchedWriter with many writers held at once (a download on 16 streams into one file, an upload's 16
// sessions): each writer held by the in-flight bound must cost O(1) promises per batch that lands, not one
// reaction per batch in flight per waiter per turn (`Promise.race` over the in-flight set: 20 CPU s per GiB
// on the client of `get --streams 16`, bench/transfer-ab.ts). Counted with V8's promise hooks, not timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promiseHooks } from 'node:v8';
import { BatchedWriter } from '../../src/transfer/batched-writer.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const WRITERS = 16;
const RECORD_BYTES = 64 * 1024;
const RECORDS_PER_WRITER = 32;

test('16 writers into one file, each record its own batch: promises created stay O(1) per write', async (t) => {
  const dir = await makeTempDir('ferry-batched-writer-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'f');
  const handle = await open(path, 'w+');
  t.after(() => handle.close());
  const writer = new BatchedWriter(handle);
  const region = RECORD_BYTES * RECORDS_PER_WRITER;
  const record = (w: number, k: number): Buffer => Buffer.alloc(RECORD_BYTES, (w * 31 + k) & 0xff);
  let created = 0;
  const stop = promiseHooks.onInit(() => created++);
  try {
    // Each writer's records are contiguous in its own region, but the writers take turns, so no two
    // consecutive writes join one batch: 512 batches of 64 KiB, well past the 8 MiB in flight.
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let k = 0; k < RECORDS_PER_WRITER; k++) {
          await writer.write(record(w, k), w * region + k * RECORD_BYTES);
          await Promise.resolve();
        }
      }),
    );
    await writer.flush();
  } finally {
    stop();
  }
  const writes = WRITERS * RECORDS_PER_WRITER;
  const bytes = await readFile(path);
  assert.equal(bytes.length, WRITERS * region);
  for (let w = 0; w < WRITERS; w++)
    for (let k = 0; k < RECORDS_PER_WRITER; k++)
      assert.ok(
        bytes
          .subarray(w * region + k * RECORD_BYTES, w * region + (k + 1) * RECORD_BYTES)
          .equals(record(w, k)),
        `writer ${w} record ${k}`,
      );
  // Measured: 30 per write with one shared wake-up (this test's own awaits included), 1,665 with the race.
  assert.ok(created < 100 * writes, `${created} promises for ${writes} writes`);
});
