// A delta upload's server makes verified chunks durable in batches 4 times its own (delta-durable-batch.ts,
// DELTA_DURABLE_BATCH_FACTOR): each batch is a sync of the data and one of the log, and a delta's chunks are
// mostly copies verified at the speed of memory (issue 16). Seen through the server's progress events, which
// count durable bytes only (PROTOCOL.md §5.7): real TCP on loopback, real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sendFiles } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type { ServerEvent } from '../../src/server/index.js';
import { startProxiedServer } from '../helpers/proxied-server.js';

const CHUNK_BYTES = 256 * 1024;
const CHUNKS = 16;
const NAME = 'image.bin';

/** Sends `next` over the server's `old` (a delta unless `delta` is false); the durable bytes progress showed. */
async function progressOf(t: TestContext, old: Buffer, next: Buffer, delta: boolean): Promise<number[]> {
  const r = await startProxiedServer(t, 'ferry-delta-batches-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
    retries: 0,
    durableBatchBytes: CHUNK_BYTES,
  });
  await writeFile(join(r.root, NAME), old);
  const source = join(r.dir, 'src', NAME);
  await mkdir(join(r.dir, 'src'));
  await writeFile(source, next);
  const progress: number[] = [];
  const onEvent = (event: ServerEvent): void => {
    if (event.type === 'progress' && event.transfer.direction === 'upload')
      progress.push(event.verifiedBytes);
  };
  r.server.events.on('event', onEvent);
  await sendFiles({ ...r.connect, files: [source], chunkBytes: CHUNK_BYTES, overwrite: true, delta });
  r.server.events.off('event', onEvent);
  assert.ok((await readFile(join(r.root, NAME))).equals(next), 'the file is replaced byte-exact');
  return progress;
}

test('a delta upload makes its chunks durable 4 batches of the server at a time; a whole upload one at a time', async (t) => {
  const old = randomBytes(CHUNKS * CHUNK_BYTES);
  const next = Buffer.from(old);
  for (const at of [100, 5 * CHUNK_BYTES + 7, 11 * CHUNK_BYTES]) randomBytes(300).copy(next, at);
  const batch = 4 * CHUNK_BYTES;
  const deltaProgress = await progressOf(t, old, next, true);
  // The last batch is not logged (the finish makes it durable and places the file): batches of 4 chunks
  // before it, each counted once made durable (two may be joined when one waits for the other's syncs).
  assert.ok(deltaProgress.length > 0, 'a delta of 16 chunks reports durable progress');
  for (const bytes of deltaProgress)
    assert.equal(bytes % batch, 0, `durable progress ${bytes} is whole batches of 4 chunks`);
  // Control: the same file sent whole is made durable by the server's own batch, one chunk.
  const wholeProgress = await progressOf(t, old, next, false);
  assert.ok(
    wholeProgress.some((bytes) => bytes % batch !== 0),
    `a whole upload counts single chunks (${wholeProgress.join(', ')})`,
  );
});
