// PartialTransfer: the receiving side of one transfer over a store (PROTOCOL.md §5.5, §9.2, §9.3). The rules
// it drives are the receiver machine's, tested with bytes in test/machines/receiver-machine.test.ts; here the
// driving: durability order on a disk, the log, re-verification on resume, atomic placement, and the
// machine's outcomes as the errors its callers see.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, writeFile } from 'node:fs/promises';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  ChunkLog,
  FilePartialStore,
  MemoryPartialStore,
  PartialTransfer,
  resolveUnderRoot,
  type PartialTransferOptions,
} from '../../src/transfer/index.js';
import { chunkHashOf, fileDigest, haveDigest } from '../../src/protocol/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const SIZE = 4 * CHUNK_BYTES + 100; // five chunks, the last one short

interface Fixture {
  dir: string;
  content: Buffer;
  hashes: Buffer[];
  digest: Buffer;
  options(extra?: Partial<PartialTransferOptions>): PartialTransferOptions;
  /** The store of the partial `id`: `id.part` and `id.state` in `dir`. */
  store: FilePartialStore<string>;
  dataPath: string;
  logPath: string;
}

async function fixture(t: TestContext): Promise<Fixture> {
  const dir = await makeTempDir('ferry-partial-');
  t.after(() => removeTempDir(dir));
  const content = randomBytes(SIZE);
  const hashes = Array.from({ length: Math.ceil(SIZE / CHUNK_BYTES) }, (_, i) =>
    chunkHashOf(chunkOf(content, i)),
  );
  const dataPath = join(dir, 'id.part');
  const logPath = join(dir, 'id.state');
  return {
    dir,
    content,
    hashes,
    digest: fileDigest(SIZE, CHUNK_BYTES, hashes),
    dataPath,
    logPath,
    store: new FilePartialStore({ pathsOf: () => ({ dataPath, logPath }) }),
    options: (extra = {}) => ({
      size: SIZE,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: CHUNK_BYTES,
      fresh: false,
      durableBatchBytes: CHUNK_BYTES,
      ...extra,
    }),
  };
}

function chunkOf(content: Buffer, index: number): Buffer {
  return content.subarray(index * CHUNK_BYTES, Math.min(content.length, (index + 1) * CHUNK_BYTES));
}

/** Sends chunk `index` as two PUT_DATA pieces and a PUT_CHUNK. */
async function receiveChunk<Target>(
  partial: PartialTransfer<Target>,
  f: Fixture,
  index: number,
  hash = f.hashes[index]!,
): Promise<void> {
  const chunk = chunkOf(f.content, index);
  const half = Math.floor(chunk.length / 2);
  await partial.writeData(index * CHUNK_BYTES, chunk.subarray(0, half));
  await partial.writeData(index * CHUNK_BYTES + half, chunk.subarray(half));
  partial.completeChunk(index, hash);
}

async function loggedIndices(logPath: string): Promise<number[]> {
  return ((await ChunkLog.load(logPath))?.entries ?? []).map((e) => e.index);
}

test('PartialTransfer logs a chunk only after flushing, and fdatasyncs its data before writing the log entry', async (t) => {
  const f = await fixture(t);
  const calls = await spyOnFileHandles(t);
  // A batch larger than the file: nothing becomes durable until close().
  const partial = await PartialTransfer.open(f.store, 'id', f.options({ durableBatchBytes: 1 << 20 }));
  calls.length = 0;
  await receiveChunk(partial, f, 0);
  await receiveChunk(partial, f, 1);
  assert.deepEqual(await loggedIndices(f.logPath), [], 'verified but not yet durable: not in the log');
  assert.equal(partial.verifiedBytes, 0, 'not counted as held before it is durable');
  await partial.close();
  assert.deepEqual(await loggedIndices(f.logPath), [0, 1], 'logged by the flush');

  // Order on disk: every write to the log comes after a datasync of the data written before it.
  let dataDirty = false;
  let logWrites = 0;
  for (const call of calls) {
    if (call.path === f.dataPath && (call.op === 'write' || call.op === 'writev')) dataDirty = true;
    if (call.path === f.dataPath && (call.op === 'datasync' || call.op === 'sync')) dataDirty = false;
    if (call.path === f.logPath && call.op === 'write') {
      logWrites++;
      assert.equal(
        dataDirty,
        false,
        `log written while data was not yet flushed: ${JSON.stringify(calls.map((c) => `${c.op}:${c.path.endsWith('.part') ? 'part' : 'state'}`))}`,
      );
    }
  }
  assert.ok(logWrites > 0, 'the log was written through a file handle');
});

test('PartialTransfer reports durable progress per batch, and the log holds exactly what it reported', async (t) => {
  const f = await fixture(t);
  const durable: number[] = [];
  let wake: () => void = () => undefined;
  const partial = await PartialTransfer.open(
    f.store,
    'id',
    f.options({
      onDurable: (bytes) => {
        durable.push(bytes);
        wake();
      },
    }),
  );
  for (const index of [0, 1, 2]) {
    const flushed = new Promise<void>((resolve) => (wake = resolve));
    await receiveChunk(partial, f, index);
    await flushed;
    assert.deepEqual(
      await loggedIndices(f.logPath),
      Array.from({ length: index + 1 }, (_, i) => i),
    );
  }
  assert.deepEqual(durable, [CHUNK_BYTES, 2 * CHUNK_BYTES, 3 * CHUNK_BYTES]);
  assert.equal(partial.verifiedBytes, 3 * CHUNK_BYTES);
  await partial.close();
});

test('PartialTransfer resumes the logged chunks, and re-verification drops a chunk changed on disk', async (t) => {
  const f = await fixture(t);
  const first = await PartialTransfer.open(f.store, 'id', f.options());
  for (const index of [0, 1, 2, 3]) await receiveChunk(first, f, index);
  await first.close();

  const handle = await open(f.dataPath, 'r+');
  await handle.write(Buffer.from([f.content[CHUNK_BYTES + 7]! ^ 0x80]), 0, 1, CHUNK_BYTES + 7); // inside chunk 1
  await handle.close();

  const resumed = await PartialTransfer.open(f.store, 'id', f.options());
  assert.deepEqual(resumed.heldRanges(), [
    { first: 0, count: 1 },
    { first: 2, count: 2 },
  ]);
  assert.equal(resumed.verifiedBytes, 3 * CHUNK_BYTES);
  assert.equal(resumed.restarted, false);
  assert.deepEqual(
    await loggedIndices(f.logPath),
    [0, 2, 3],
    'the log is rewritten without the changed chunk',
  );
  await receiveChunk(resumed, f, 1);
  await receiveChunk(resumed, f, 4);
  const target = await resolveUnderRoot(f.dir, ['final.bin'], { createDirs: true });
  assert.deepEqual(await resumed.finish(f.digest, target, { mode: 0o644, overwrite: false }), f.digest);
  assert.deepEqual(await readFile(target.path), f.content);
});

test('PartialTransfer restarts from nothing when the offer describes another source, and on FRESH', async (t) => {
  const f = await fixture(t);
  const first = await PartialTransfer.open(f.store, 'id', f.options());
  for (const index of [0, 1]) await receiveChunk(first, f, index);
  await first.close();

  const otherSource = await PartialTransfer.open(f.store, 'id', f.options({ mtimeMs: 1_700_000_000_001 }));
  assert.equal(otherSource.restarted, true, 'RESTARTED: a partial of another version was discarded');
  assert.deepEqual(otherSource.heldRanges(), []);
  for (const index of [0, 1]) await receiveChunk(otherSource, f, index);
  await otherSource.close();

  const fresh = await PartialTransfer.open(
    f.store,
    'id',
    f.options({ mtimeMs: 1_700_000_000_001, fresh: true }),
  );
  assert.deepEqual(fresh.heldRanges(), [], 'FRESH drops the held chunks');
  assert.equal(fresh.restarted, false);
  await fresh.close();
});

test('PartialTransfer fails a chunk whose hash does not match its bytes with CHUNK_MISMATCH and does not hold it', async (t) => {
  const f = await fixture(t);
  const partial = await PartialTransfer.open(f.store, 'id', f.options());
  await receiveChunk(partial, f, 0);
  await assert.rejects(receiveChunk(partial, f, 1, f.hashes[2]), { code: 'CHUNK_MISMATCH' });
  await partial.close();
  assert.deepEqual(await loggedIndices(f.logPath), [0]);
});

test('PartialTransfer keeps a chunk that failed its hash unverified: finish refuses until the chunk is sent again and matches', async (t) => {
  const f = await fixture(t);
  const partial = await PartialTransfer.open(f.store, 'id', f.options());
  for (const index of [0, 2, 3, 4]) await receiveChunk(partial, f, index);
  const forged = Buffer.alloc(CHUNK_BYTES, 0x58);
  await partial.writeData(CHUNK_BYTES, forged, 'joined stream');
  assert.throws(() => partial.completeChunk(1, f.hashes[1]!, 'joined stream'), { code: 'CHUNK_MISMATCH' });
  const target = await resolveUnderRoot(f.dir, ['out.bin'], { createDirs: true });
  await assert.rejects(partial.finish(f.digest, target, { mode: 0o644, overwrite: false }), {
    code: 'MESSAGE_MALFORMED',
    message: /1 of 5 chunks missing at end/,
  });
  await receiveChunk(partial, f, 1);
  await partial.finish(f.digest, target, { mode: 0o644, overwrite: false });
  assert.deepEqual(await readFile(target.path), f.content, 'the forged bytes were replaced and verified');
});

test('PartialTransfer with a wrong file digest fails with DIGEST_MISMATCH and nothing appears under the final name', async (t) => {
  const f = await fixture(t);
  const partial = await PartialTransfer.open(f.store, 'id', f.options());
  for (let index = 0; index < f.hashes.length; index++) await receiveChunk(partial, f, index);
  const target = await resolveUnderRoot(f.dir, ['out', 'final.bin'], { createDirs: true });
  const wrong = Buffer.from(f.digest);
  wrong[0]! ^= 1;
  await assert.rejects(partial.finish(wrong, target, { mode: 0o644, overwrite: false }), {
    code: 'DIGEST_MISMATCH',
  });
  assert.deepEqual(await readdir(join(f.dir, 'out')), [], 'no file under the final name');
});

test('PartialTransfer never clobbers an existing destination without overwrite (FILE_EXISTS), and replaces it with overwrite', async (t) => {
  const f = await fixture(t);
  const target = await resolveUnderRoot(f.dir, ['existing.bin'], { createDirs: true });
  await writeFile(target.path, 'the old content');

  const refused = await PartialTransfer.open(f.store, 'id', f.options());
  for (let index = 0; index < f.hashes.length; index++) await receiveChunk(refused, f, index);
  await assert.rejects(refused.finish(f.digest, target, { mode: 0o644, overwrite: false }), {
    code: 'FILE_EXISTS',
  });
  assert.equal(await readFile(target.path, 'utf8'), 'the old content');
  await refused.close().catch(() => undefined);

  const replacing = await PartialTransfer.open(f.store, 'id', f.options({ fresh: true }));
  for (let index = 0; index < f.hashes.length; index++) await receiveChunk(replacing, f, index);
  await replacing.finish(f.digest, target, { mode: 0o644, overwrite: true });
  assert.deepEqual(await readFile(target.path), f.content);
  assert.deepEqual(
    (await readdir(f.dir)).filter((n) => n.startsWith('id.')),
    [],
    'the partial files are gone',
  );
});

test('PartialTransfer ends a download stripe only with the digest over the chunks it sent, and keeps them when it is another (§5.13.6)', async () => {
  const store = new MemoryPartialStore<string>();
  const content = randomBytes(SIZE);
  const hashes = [0, 1, 2, 3, 4].map((i) => chunkHashOf(chunkOf(content, i)));
  const partial = await PartialTransfer.open(store, 'k', {
    size: SIZE,
    mtimeMs: 0,
    chunkBytes: CHUNK_BYTES,
    fresh: false,
    checkPartDigests: true,
  });
  for (const [stripe, index] of [
    ['stripe 1', 1],
    ['stripe 1', 3],
    ['stripe 2', 2],
  ] as const) {
    await partial.writeData(index * CHUNK_BYTES, chunkOf(content, index), stripe);
    partial.completeChunk(index, hashes[index]!, stripe);
  }
  partial.endPart('stripe 1', haveDigest([hashes[1]!, hashes[3]!]));
  assert.throws(() => partial.endPart('stripe 2', haveDigest([hashes[1]!])), {
    code: 'DIGEST_MISMATCH',
    message: /a stream ended with another digest than its chunks/,
  });
  await partial.close();
  const resumed = await PartialTransfer.open(store, 'k', {
    size: SIZE,
    mtimeMs: 0,
    chunkBytes: CHUNK_BYTES,
    fresh: false,
  });
  assert.deepEqual(resumed.heldRanges(), [{ first: 1, count: 3 }], 'every verified chunk was kept');
  await resumed.close();
});

test("PartialTransfer refuses a joined stream's data once the transfer closed, for that stream only (PATH_NOT_FOUND, §5.13.5)", async () => {
  const store = new MemoryPartialStore<string>();
  const partial = await PartialTransfer.open(store, 'k', {
    size: SIZE,
    mtimeMs: 0,
    chunkBytes: CHUNK_BYTES,
    fresh: false,
  });
  await partial.writeData(0, Buffer.alloc(10), 'joined');
  await partial.close();
  await assert.rejects(partial.writeData(10, Buffer.alloc(10), 'joined'), {
    code: 'PATH_NOT_FOUND',
    message: /the transfer this stream joined is closed/,
  });
  assert.throws(() => partial.endPart('joined', Buffer.alloc(32)), { code: 'PATH_NOT_FOUND' });
  partial.abandonChunks('joined'); // its session then closes: nothing to do
});

/** Records file-handle writes and flushes, by path (from /proc/self/fd), until the test ends. */
async function spyOnFileHandles(t: TestContext): Promise<Array<{ op: string; path: string }>> {
  const dir = await makeTempDir('ferry-spy-');
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as Record<string, (...args: unknown[]) => Promise<unknown>>;
  await probe.close();
  await removeTempDir(dir);
  const calls: Array<{ op: string; path: string }> = [];
  for (const op of ['write', 'writev', 'writeFile', 'datasync', 'sync']) {
    const original = proto[op]!;
    proto[op] = function (this: { fd: number }, ...args: unknown[]) {
      let path = '?';
      try {
        path = readlinkSync(`/proc/self/fd/${this.fd}`);
      } catch {
        // closed meanwhile
      }
      calls.push({ op, path });
      return original.apply(this, args);
    };
    t.after(() => {
      proto[op] = original;
    });
  }
  return calls;
}

test('PartialTransfer finishes without logging its last batch: the placement fsyncs the file once, after every write, and writes nothing to the log (issue 14)', async (t) => {
  const f = await fixture(t);
  const calls = await spyOnFileHandles(t);
  // Batches of 3 chunks: chunks 0-2 are made durable and logged while receiving; 3 and 4 are left at the end.
  const partial = await PartialTransfer.open(
    f.store,
    'id',
    f.options({ durableBatchBytes: 3 * CHUNK_BYTES }),
  );
  const target = await resolveUnderRoot(f.dir, ['out.bin'], { createDirs: true });
  for (let index = 0; index < f.hashes.length; index++) await receiveChunk(partial, f, index);
  await partial.flushWrites();
  // The first batch's make-durable runs behind the receiving; finish waits for it before placing.
  const before = calls.length;
  assert.deepEqual(await partial.finish(f.digest, target, { mode: 0o644, overwrite: false }), f.digest);
  assert.deepEqual(await readFile(target.path), f.content);
  const atFinish = calls
    .slice(before)
    .map(
      (c) => `${c.op}:${c.path.endsWith('.part') ? 'part' : c.path.endsWith('.state') ? 'state' : 'other'}`,
    );
  const last = calls.slice(before).filter((c) => c.path === f.dataPath || c.path === f.logPath);
  // Whatever of the first batch was still queued (its datasync, then its log entry) may come first; after
  // the last log write, the data is only fsync'd, once, by the placement (PROTOCOL.md §9.3).
  const lastLog = last.map((c) => c.path).lastIndexOf(f.logPath);
  assert.deepEqual(
    last.slice(lastLog + 1).map((c) => `${c.op}:${c.path === f.dataPath ? 'part' : 'state'}`),
    ['sync:part'],
    `calls at finish: ${JSON.stringify(atFinish)}`,
  );
  const logWritesAtFinish = last.filter((c) => c.path === f.logPath && c.op === 'write').length;
  assert.ok(
    logWritesAtFinish <= 1,
    `at most the first batch's entry is logged at finish: ${JSON.stringify(atFinish)}`,
  );
});

test('PartialTransfer whose placement fails (FILE_EXISTS) keeps the partial without claiming the unlogged last batch: a resume holds the logged chunks and receives the rest again', async (t) => {
  const f = await fixture(t);
  const target = await resolveUnderRoot(f.dir, ['taken.bin'], { createDirs: true });
  await writeFile(target.path, 'the old content');
  const refused = await PartialTransfer.open(
    f.store,
    'id',
    f.options({ durableBatchBytes: 3 * CHUNK_BYTES }),
  );
  for (let index = 0; index < f.hashes.length; index++) await receiveChunk(refused, f, index);
  await assert.rejects(refused.finish(f.digest, target, { mode: 0o644, overwrite: false }), {
    code: 'FILE_EXISTS',
  });
  await refused.close();
  assert.equal(await readFile(target.path, 'utf8'), 'the old content');
  assert.deepEqual(await loggedIndices(f.logPath), [0, 1, 2], 'the last batch (chunks 3, 4) is not claimed');

  const resumed = await PartialTransfer.open(
    f.store,
    'id',
    f.options({ durableBatchBytes: 3 * CHUNK_BYTES }),
  );
  assert.deepEqual(resumed.heldRanges(), [{ first: 0, count: 3 }]);
  for (const index of [3, 4]) await receiveChunk(resumed, f, index);
  await resumed.finish(f.digest, target, { mode: 0o644, overwrite: true });
  assert.deepEqual(await readFile(target.path), f.content);
});

test('PartialTransfer counts the chunks of a partial unchanged since its clean close without re-reading them, and inspect agrees (§9.2)', async (t) => {
  const f = await fixture(t);
  const first = await PartialTransfer.open(f.store, 'id', f.options());
  for (const index of [0, 1, 2]) await receiveChunk(first, f, index);
  await first.close();
  assert.ok((await ChunkLog.load(f.logPath))?.closing, 'closed with a closing record');

  const inspected = await PartialTransfer.inspect(f.store, 'id');
  assert.deepEqual(
    inspected?.held.map((e) => e.index),
    [0, 1, 2],
  );
  const resumed = await PartialTransfer.open(f.store, 'id', f.options());
  assert.equal(resumed.rehashedBytes, 0, 'nothing read back');
  assert.equal(resumed.verifiedBytes, 3 * CHUNK_BYTES);
  assert.equal((await ChunkLog.load(f.logPath))?.closing, undefined, 'the rewritten log is open again');
  for (const index of [3, 4]) await receiveChunk(resumed, f, index);
  const target = await resolveUnderRoot(f.dir, ['final.bin'], { createDirs: true });
  assert.deepEqual(await resumed.finish(f.digest, target, { mode: 0o644, overwrite: false }), f.digest);
  assert.deepEqual(await readFile(target.path), f.content);
});

test('PartialTransfer re-hashes a partial whose log lost its closing record (a crash) and charges the bytes read', async (t) => {
  const f = await fixture(t);
  const first = await PartialTransfer.open(f.store, 'id', f.options());
  for (const index of [0, 1, 2]) await receiveChunk(first, f, index);
  await first.close();
  const bytes = await readFile(f.logPath);
  await writeFile(f.logPath, bytes.subarray(0, bytes.length - 40));
  const resumed = await PartialTransfer.open(f.store, 'id', f.options());
  assert.equal(resumed.rehashedBytes, 3 * CHUNK_BYTES);
  assert.equal(resumed.verifiedBytes, 3 * CHUNK_BYTES);
  await resumed.close();
});

test('PartialTransfer over the memory store: a clean close is trusted, an overwrite since or a crash re-hashes (one policy for every store)', async () => {
  const f = { content: randomBytes(SIZE) } as Fixture;
  f.hashes = Array.from({ length: 5 }, (_, i) => chunkHashOf(chunkOf(f.content, i)));
  const store = new MemoryPartialStore();
  const options: PartialTransferOptions = {
    size: SIZE,
    mtimeMs: 1_700_000_000_000,
    chunkBytes: CHUNK_BYTES,
    fresh: false,
    durableBatchBytes: CHUNK_BYTES,
  };
  const first = await PartialTransfer.open(store, 'id', options);
  for (const index of [0, 1, 2]) await receiveChunk(first, f, index);
  await first.close();

  const clean = await PartialTransfer.open(store, 'id', options);
  assert.equal(clean.rehashedBytes, 0);
  assert.equal(clean.verifiedBytes, 3 * CHUNK_BYTES);
  await clean.close();

  store.overwrite('id', CHUNK_BYTES + 5, Buffer.from([f.content[CHUNK_BYTES + 5]! ^ 0x01]));
  let durable = (): void => undefined;
  const chunkOneDurable = new Promise<void>((resolve) => (durable = resolve));
  const changed = await PartialTransfer.open(store, 'id', {
    ...options,
    onDurable: (bytes) => bytes === 3 * CHUNK_BYTES && durable(),
  });
  assert.equal(changed.rehashedBytes, 3 * CHUNK_BYTES);
  assert.deepEqual(changed.heldRanges(), [
    { first: 0, count: 1 },
    { first: 2, count: 1 },
  ]);
  await receiveChunk(changed, f, 1);
  await chunkOneDurable;
  // Power cut while the partial is open: no closing record.
  store.crash();

  const crashed = await PartialTransfer.open(store, 'id', options);
  assert.equal(crashed.rehashedBytes, 3 * CHUNK_BYTES, 'no clean close: re-hashed');
  assert.equal(crashed.verifiedBytes, 3 * CHUNK_BYTES);
  await crashed.close();
});
