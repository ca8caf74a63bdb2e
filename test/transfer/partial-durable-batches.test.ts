// PartialTransfer joins make-durable batches that queue up behind a running one (issue 16: a delta download
// accepting 1 GiB of leaves at once made 64 batches of 16 MiB, each a sync of the data and one of the log,
// one after another; 1-3 s of the download's end). A real file store on disk, its makeDurable counted and the
// first one held until the rest were verified: the rest become ONE batch, every chunk is logged after its
// data is durable, and a reopen holds them all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { chunkHashOf } from '../../src/protocol/index.js';
import {
  FilePartialStore,
  PartialTransfer,
  type ChunkEntry,
  type PartialStore,
  type RootPath,
} from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK_BYTES = 64 * 1024;
const CHUNKS = 8;
const SIZE = CHUNKS * CHUNK_BYTES;

test('make-durable batches queued behind a running one are joined into one, each chunk still logged', async (t) => {
  const dir = await makeTempDir('ferry-durable-batches-');
  t.after(() => removeTempDir(dir));
  const files = new FilePartialStore<string>({
    pathsOf: () => ({ dataPath: join(dir, 'f.part'), logPath: join(dir, 'f.state') }),
  });
  const header = { size: SIZE, mtimeMs: 1_700_000_000_000, chunkBytes: CHUNK_BYTES };
  const content = randomBytes(SIZE);
  const chunk = (i: number): Buffer => content.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
  const progress: number[] = [];
  // The store's makeDurable, counted; the first held until released, as a slow disk would.
  const batches: number[][] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const firstStarted = new Promise<void>((resolve) => (started = resolve));
  const counted: PartialStore<string, RootPath> = {
    inspect: (key) => files.inspect(key),
    async open(key, openHeader, options) {
      const stored = await files.open(key, openHeader, options);
      const makeDurable = stored.makeDurable.bind(stored);
      stored.makeDurable = async (entries: readonly ChunkEntry[]): Promise<void> => {
        batches.push(entries.map((e) => e.index));
        if (batches.length === 1) {
          started();
          await released;
        }
        await makeDurable(entries);
      };
      return stored;
    },
  };
  // One chunk a batch: every completed chunk asks for its own make-durable effect.
  const partial = await PartialTransfer.open(counted, 'f', {
    ...header,
    fresh: true,
    durableBatchBytes: CHUNK_BYTES,
    onDurable: (bytes) => progress.push(bytes),
  });
  for (let i = 0; i < CHUNKS; i++) await partial.writeData(i * CHUNK_BYTES, chunk(i));
  partial.completeChunk(0, chunkHashOf(chunk(0)));
  await firstStarted;
  for (let i = 1; i < CHUNKS; i++) partial.completeChunk(i, chunkHashOf(chunk(i)));
  release();
  await partial.close();
  assert.deepEqual(batches, [[0], [1, 2, 3, 4, 5, 6, 7]], 'the 7 queued batches became one');
  assert.deepEqual(progress, [CHUNK_BYTES, SIZE], 'PROGRESS counts each batch once it is durable');
  const reopened = await PartialTransfer.open(files, 'f', { ...header, fresh: false });
  try {
    assert.equal(reopened.verifiedBytes, SIZE, 'every chunk was logged and holds after a reopen');
  } finally {
    await reopened.close();
  }
});
