// `signLeaves` with a write through (issue 16): the leaf hash thread that reads a piece of the old file also
// writes its whole leaves where they lie into the new file, from the very bytes it hashes, so a delta
// upload's server reads its old file once and places it without a write from its event loop. Each piece is
// claimed before its read and told whether it landed before it reaches `onPiece`; the signature is the same
// either way, its weak checksums taken on the threads too. Real files; the new one opened for direct I/O
// where the file system has it (the thread cares not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ChunkHashes,
  LEAF_BYTES,
  deltaSignatureOf,
  type DeltaBlocksMessage,
} from '../../src/protocol/index.js';
import { SIGNING_COUNTERS, signLeaves, type PieceWriteThrough } from '../../src/transfer/index.js';
import { openBytesFile } from '../helpers/chunk-source-view.js';

/** Three pieces of 64 leaves and a fourth of 8 leaves and a short one. */
const bytes = randomBytes(200 * LEAF_BYTES + 999);

/** A piece's claim, what it was told after, and when `onPiece` saw it (in the order of `events`). */
type Event = `claim ${number}+${number}` | `landed ${number} ${boolean}` | `piece ${number}`;

/**
 * Signs `bytes` with `claim` deciding each piece's write through into a fresh file of its size (`writable`
 * false: opened read-only, so every write fails), and returns what happened, the signature checked.
 */
async function signWritingThrough(
  t: test.TestContext,
  claim: (offset: number) => boolean,
  writable = true,
): Promise<{ events: Event[]; written: Buffer }> {
  const { file, path } = await openBytesFile(t, 'ferry-sign-write-through-', bytes);
  const into = join(path, '..', 'new.bin');
  const made = await open(into, 'w');
  await made.truncate(bytes.length);
  await made.close();
  const partial = writable
    ? await open(into, constants.O_WRONLY | constants.O_DIRECT).catch(() => open(into, 'r+'))
    : await open(into, 'r');
  t.after(() => partial.close());
  const events: Event[] = [];
  const through: PieceWriteThrough = {
    claim: (offset, length) => {
      events.push(`claim ${offset / LEAF_BYTES}+${length / LEAF_BYTES}`);
      return claim(offset) ? partial.fd : undefined;
    },
    landed: (offset, _length, written) => void events.push(`landed ${offset / LEAF_BYTES} ${written}`),
  };
  const records: DeltaBlocksMessage[] = [];
  const hashes = new ChunkHashes(bytes.length, LEAF_BYTES);
  const summedBefore = SIGNING_COUNTERS.weakSummedLeaves;
  await signLeaves(
    file,
    1,
    hashes,
    (record) => {
      records.push(record);
      return Promise.resolve();
    },
    (offset) => {
      events.push(`piece ${offset / LEAF_BYTES}`);
      return Promise.resolve();
    },
    undefined,
    { writeThrough: through },
  );
  const expected = deltaSignatureOf(bytes, LEAF_BYTES);
  assert.deepEqual(
    records.flatMap((r) => [...r.weak]),
    [...expected.weak],
  );
  assert.ok(Buffer.concat(records.map((r) => r.strong)).equals(expected.strong), 'the same signature');
  assert.equal(
    SIGNING_COUNTERS.weakSummedLeaves - summedBefore,
    0,
    'the weak checksums taken on the threads',
  );
  return { events, written: await readFile(into) };
}

test('signLeaves with a write through: every whole leaf written where it lies by the threads, each piece told it landed before onPiece', async (t) => {
  const { events, written } = await signWritingThrough(t, () => true);
  const whole = 200 * LEAF_BYTES;
  assert.ok(written.subarray(0, whole).equals(bytes.subarray(0, whole)), 'the whole leaves, byte-exact');
  assert.ok(written.subarray(whole).equals(Buffer.alloc(999)), 'not the short last leaf');
  for (const [first, count] of [
    [0, 64],
    [64, 64],
    [128, 64],
    [192, 8],
  ] as const) {
    const claimed = events.indexOf(`claim ${first}+${count}`);
    const landed = events.indexOf(`landed ${first} true`);
    const piece = events.indexOf(`piece ${first}`);
    assert.ok(claimed >= 0 && claimed < landed && landed < piece, `piece ${first}: ${events.join(', ')}`);
  }
});

test('signLeaves with a write through: a piece not claimed is read and hashed only, its leaves left as they were', async (t) => {
  const { events, written } = await signWritingThrough(t, (offset) => offset !== 64 * LEAF_BYTES);
  assert.ok(written.subarray(0, 64 * LEAF_BYTES).equals(bytes.subarray(0, 64 * LEAF_BYTES)));
  assert.ok(written.subarray(64 * LEAF_BYTES, 128 * LEAF_BYTES).equals(Buffer.alloc(64 * LEAF_BYTES)));
  assert.ok(
    written
      .subarray(128 * LEAF_BYTES, 200 * LEAF_BYTES)
      .equals(bytes.subarray(128 * LEAF_BYTES, 200 * LEAF_BYTES)),
  );
  assert.ok(
    !events.some((event) => event.startsWith('landed 64')),
    'no landing told for a piece not claimed',
  );
});

test('signLeaves with a write through: writes that fail are told as not landed, the signing goes on', async (t) => {
  const { events, written } = await signWritingThrough(t, () => true, false);
  assert.deepEqual(events.filter((event) => event.startsWith('landed')).sort(), [
    'landed 0 false',
    'landed 128 false',
    'landed 192 false',
    'landed 64 false',
  ]);
  assert.ok(written.equals(Buffer.alloc(bytes.length)), 'nothing written');
});
