// Received data in a pool's receive blocks is written by the pool's workers through the partial's descriptor
// (issue 14), not by libuv's pool. What must hold: every byte lands, byte-exact, through the pool; a chunk
// counts only once its bytes landed; and a partial never closes its file while a worker may still write
// through the descriptor (a number a later open could reuse: the bytes would land in another file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fstatSync, writeSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { landOffThread, type OffThreadWriter } from '../../src/protocol/index.js';
import { FilePartialStore } from '../../src/transfer/index.js';
import { SealPool } from '../../src/transfer/pipeline/seal-pool.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const MIB = 1024 * 1024;

function storeIn(dir: string): FilePartialStore<string> {
  return new FilePartialStore<string>({
    pathsOf: (key) => ({ dataPath: join(dir, `${key}.part`), logPath: join(dir, `${key}.state`) }),
  });
}

/** `bytes` copied into shared memory, as the receive pool's blocks hold received data. */
function sharedCopy(bytes: Buffer): Buffer {
  const shared = Buffer.from(new SharedArrayBuffer(bytes.length));
  bytes.copy(shared);
  return shared;
}

test("data in a writing pool's blocks lands through the pool's workers, byte-exact, before it counts as written", async (t) => {
  const dir = await makeTempDir('ferry-off-thread-');
  t.after(() => removeTempDir(dir));
  const pool = new SealPool(2);
  try {
    const written: Array<{ position: number; bytes: number }> = [];
    const spy: OffThreadWriter = {
      writev: async (fd, buffers, position) => {
        await pool.writev(fd, buffers, position);
        written.push({ position, bytes: buffers.reduce((sum, b) => sum + b.length, 0) });
      },
    };
    const content = new SeededRandom(31).bytes(3 * MIB + 4321);
    const partial = await storeIn(dir).open(
      'f',
      { size: content.length, mtimeMs: 0, chunkBytes: 4 * MIB },
      { fresh: true, keepLog: true },
    );
    // Two blocks of a writing pool, and one plain buffer, which libuv's pool writes.
    const first = sharedCopy(content.subarray(0, 2 * MIB));
    const second = sharedCopy(content.subarray(2 * MIB, 3 * MIB));
    landOffThread(first.buffer as SharedArrayBuffer, spy);
    landOffThread(second.buffer as SharedArrayBuffer, spy);
    for (let at = 0; at < 2 * MIB; at += 64 * 1024)
      await partial.write(at, first.subarray(at, at + 64 * 1024));
    await partial.write(2 * MIB, second);
    await partial.write(3 * MIB, Buffer.from(content.subarray(3 * MIB)));
    await partial.flushWrites();
    // Landed once flushWrites resolved: every byte of the shared blocks went through the pool.
    assert.equal(
      written.reduce((sum, w) => sum + w.bytes, 0),
      3 * MIB,
    );
    await partial.makeDurable([]);
    await partial.close();
    assert.ok(
      (await readFile(join(dir, 'f.part'))).equals(content),
      'the file holds exactly the bytes written',
    );
  } finally {
    await pool.close();
  }
});

test("a partial aborted while a worker's write is in flight closes its file only after that write landed", async (t) => {
  const dir = await makeTempDir('ferry-off-thread-');
  t.after(() => removeTempDir(dir));
  let started!: (write: { fd: number; finish: () => void }) => void;
  const inFlight = new Promise<{ fd: number; finish: () => void }>((resolve) => (started = resolve));
  // A writer whose write is held until the test lets it go: then it writes through the descriptor itself.
  const held: OffThreadWriter = {
    writev: (fd, buffers, position) =>
      new Promise<void>((resolve, reject) => {
        started({
          fd,
          finish: () => {
            try {
              let at = position;
              for (const buffer of buffers) at += writeSync(fd, buffer, 0, buffer.length, at);
              resolve();
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          },
        });
      }),
  };
  const partial = await storeIn(dir).open(
    'g',
    { size: 2 * MIB, mtimeMs: 0, chunkBytes: 4 * MIB },
    { fresh: true, keepLog: true },
  );
  const block = sharedCopy(Buffer.alloc(MIB, 7));
  landOffThread(block.buffer as SharedArrayBuffer, held);
  await partial.write(0, block); // a whole batch: handed to the writer at once
  const write = await inFlight;
  let closed = false;
  const aborting = partial.abort().then(() => (closed = true));
  // A round trip through libuv's pool: a close that did not wait would have been done by now.
  await stat(dir);
  assert.equal(closed, false, 'the file was closed under a write in flight');
  assert.ok(fstatSync(write.fd).isFile(), 'the descriptor still names the partial');
  write.finish(); // through the descriptor: would throw EBADF on a closed one
  await aborting;
  assert.equal(closed, true);
});
