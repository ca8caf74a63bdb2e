// BatchedWriter: the receiver's positional writes, gathered into one pwritev per batch while the receive loop
// goes on (issue 14). Real files; the handle's writev is only counted or held back, then runs for real.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_PUT_DATA_BYTES } from '../../src/protocol/index.js';
import { BATCH_BYTES, BatchedWriter } from '../../src/transfer/batched-writer.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** Writes in flight past which a writer waits (batched-writer.ts). */
const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
/** Full records a batch gathers: it is submitted once it reaches BATCH_BYTES. */
const PER_BATCH = Math.ceil(BATCH_BYTES / MAX_PUT_DATA_BYTES);
/** Batches in flight once a submission takes them past the bound. */
const BATCHES_PAST_BOUND = Math.floor(MAX_IN_FLIGHT_BYTES / (PER_BATCH * MAX_PUT_DATA_BYTES)) + 1;

/** Full records' worth of file data, as a receiver hands them in (one buffer per PUT_DATA). */
function records(count: number): Buffer[] {
  return Array.from({ length: count }, () => randomBytes(MAX_PUT_DATA_BYTES));
}

async function openFile(t: TestContext): Promise<{ path: string; handle: FileHandle }> {
  const dir = await makeTempDir('ferry-batched-writer-');
  t.after(() => removeTempDir(dir));
  const path = join(dir, 'data');
  const handle = await open(path, 'w+');
  t.after(() => handle.close());
  return { path, handle };
}

test('BatchedWriter writes each BATCH_BYTES of contiguous records with one writev, and the rest on flush', async (t) => {
  const { path, handle } = await openFile(t);
  const writevs: number[] = [];
  const real = handle.writev.bind(handle);
  handle.writev = ((buffers: NodeJS.ArrayBufferView[], position?: number) => {
    writevs.push(buffers.length);
    return real(buffers, position);
  }) as FileHandle['writev'];
  const writer = new BatchedWriter(handle);
  const data = records(2 * PER_BATCH + 4);
  let at = 0;
  for (const piece of data) {
    await writer.write(piece, at);
    at += piece.length;
  }
  await writer.flush();
  // Each submission is one event-loop round trip through libuv's pool, so records go by the batch.
  assert.deepEqual(writevs, [PER_BATCH, PER_BATCH, 4]);
  assert.ok((await readFile(path)).equals(Buffer.concat(data)));
});

test('BatchedWriter holds writers past 8 MiB in flight until a write lands, then lets each waiting stream go on', async (t) => {
  const { path, handle } = await openFile(t);
  const held: Array<() => void> = [];
  let holding = true;
  const real = handle.writev.bind(handle);
  handle.writev = ((buffers: NodeJS.ArrayBufferView[], position?: number) =>
    holding
      ? new Promise<void>((resolve) => held.push(resolve)).then(() => real(buffers, position))
      : real(buffers, position)) as FileHandle['writev'];
  const writer = new BatchedWriter(handle);
  const last = BATCHES_PAST_BOUND * PER_BATCH - 1;
  const data = records(last + 8);
  const offsets = data.map((_, i) => i * MAX_PUT_DATA_BYTES);
  // The write of record `last` submits the batch that takes the bytes in flight past the bound.
  for (let i = 0; i < last; i++) await writer.write(data[i]!, offsets[i]!);
  const settled: string[] = [];
  const waiting = writer.write(data[last]!, offsets[last]!).then(() => settled.push('first'));
  // A second stream sharing the partial (PROTOCOL.md §5.13) finds no room either.
  const other = writer.write(data[last + 1]!, offsets[last + 1]!).then(() => settled.push('second'));
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.deepEqual(settled, [], 'no write past the bound resolves while every write is in flight');
  assert.equal(held.length, BATCHES_PAST_BOUND);
  held.shift()!();
  await Promise.all([waiting, other]);
  assert.deepEqual(settled, ['first', 'second']);
  holding = false;
  for (const release of held.splice(0)) release();
  for (let i = last + 2; i < data.length; i++) await writer.write(data[i]!, offsets[i]!);
  await writer.flush();
  assert.ok((await readFile(path)).equals(Buffer.concat(data)));
});

for (const oneAtATime of [true, false])
  test(`BatchedWriter ${oneAtATime ? 'with oneAtATime writes one batch of a file at a time' : 'writes batches at once'}, in the order submitted`, async (t) => {
    const { path, handle } = await openFile(t);
    let writing = 0;
    let most = 0;
    const positions: number[] = [];
    const real = handle.writev.bind(handle);
    handle.writev = (async (buffers: NodeJS.ArrayBufferView[], position?: number) => {
      writing++;
      most = Math.max(most, writing);
      positions.push(position!);
      try {
        // A turn of the event loop inside the write, so a second one started meanwhile would overlap it.
        await new Promise<void>((resolve) => setImmediate(resolve));
        return await real(buffers, position);
      } finally {
        writing--;
      }
    }) as FileHandle['writev'];
    // Several of libuv's pool threads writing one file at once only spun on its inode lock (issue 16).
    const writer = new BatchedWriter(handle, { oneAtATime });
    const data = records(4 * PER_BATCH);
    for (let i = 0; i < data.length; i++) await writer.write(data[i]!, i * MAX_PUT_DATA_BYTES);
    await writer.flush();
    if (oneAtATime) assert.equal(most, 1);
    else assert.ok(most > 1, `${most} at once`);
    assert.deepEqual(
      positions,
      [0, 1, 2, 3].map((b) => b * PER_BATCH * MAX_PUT_DATA_BYTES),
    );
    assert.ok((await readFile(path)).equals(Buffer.concat(data)));
  });
