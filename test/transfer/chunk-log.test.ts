// ChunkLog: the append-only, checked log behind a partial transfer's state (PROTOCOL.md §9.2).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkLog, type ChunkEntry } from '../../src/transfer/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** u32 index + 32-byte hash + 4-byte check. */
const ENTRY_BYTES = 40;
const HEADER = Buffer.from('size=1000;mtime=5;chunk=4096');

function entry(index: number): ChunkEntry {
  return { index, hash: createHash('sha256').update(`chunk ${index}`).digest() };
}

async function tempLog(t: TestContext): Promise<string> {
  const dir = await makeTempDir('ferry-chunk-log-');
  t.after(() => removeTempDir(dir));
  return join(dir, 'transfer.state');
}

async function flipByteAt(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset]! ^= 0x01;
  await writeFile(path, bytes);
}

test('ChunkLog reads back its header and every appended entry', async (t) => {
  const path = await tempLog(t);
  const log = await ChunkLog.create(path, HEADER, [entry(0)], { durable: true });
  await log.append([entry(1), entry(2)]);
  await log.append([entry(7)]);
  await log.close();
  const loaded = await ChunkLog.load(path);
  assert.ok(loaded);
  assert.deepEqual(loaded.header, HEADER);
  assert.deepEqual(loaded.entries, [entry(0), entry(1), entry(2), entry(7)]);
});

test('ChunkLog drops a torn last entry and keeps the ones before it', async (t) => {
  const path = await tempLog(t);
  const log = await ChunkLog.create(path, HEADER, [], { durable: true });
  await log.append([entry(0), entry(1), entry(2)]);
  await log.close();
  const { size } = await stat(path);
  for (const tornBytes of [1, 4, ENTRY_BYTES - 1]) {
    await truncate(path, size - tornBytes);
    assert.deepEqual(
      (await ChunkLog.load(path))?.entries,
      [entry(0), entry(1)],
      `torn by ${tornBytes} bytes`,
    );
  }
});

test('ChunkLog ends the log at a damaged entry: nothing after it is trusted', async (t) => {
  const path = await tempLog(t);
  const log = await ChunkLog.create(path, HEADER, [entry(0), entry(1), entry(2), entry(3)], {
    durable: false,
  });
  await log.close();
  const { size } = await stat(path);
  // A byte inside the hash of the third entry from the end (entry 1).
  await flipByteAt(path, size - 3 * ENTRY_BYTES + 10);
  assert.deepEqual((await ChunkLog.load(path))?.entries, [entry(0)]);
});

test('ChunkLog reads a damaged header, a wrong magic, a truncated head or a missing file as no log', async (t) => {
  const path = await tempLog(t);
  assert.equal(await ChunkLog.load(path), undefined, 'missing file');
  const make = async (): Promise<void> =>
    (await ChunkLog.create(path, HEADER, [entry(0)], { durable: false })).close();

  await make();
  await flipByteAt(path, 8 + 2 + 3); // inside the header bytes
  assert.equal(await ChunkLog.load(path), undefined, 'damaged header');

  await make();
  await flipByteAt(path, 0); // the magic
  assert.equal(await ChunkLog.load(path), undefined, 'wrong magic');

  await make();
  await truncate(path, 8 + 2 + HEADER.length + 2); // the header's check cut short
  assert.equal(await ChunkLog.load(path), undefined, 'truncated head');

  await writeFile(path, '');
  assert.equal(await ChunkLog.load(path), undefined, 'empty file');
});

test('ChunkLog.create replaces an existing log whole and leaves no temporary file', async (t) => {
  const path = await tempLog(t);
  const old = await ChunkLog.create(path, HEADER, [entry(0), entry(1), entry(2)], { durable: true });
  await old.close();
  const fresh = await ChunkLog.create(path, Buffer.from('another header'), [entry(5)], { durable: true });
  await fresh.append([entry(6)]);
  await fresh.close();
  const loaded = await ChunkLog.load(path);
  assert.deepEqual(loaded?.header, Buffer.from('another header'));
  assert.deepEqual(loaded?.entries, [entry(5), entry(6)]);
  assert.deepEqual(await readdir(join(path, '..')), ['transfer.state']);
});

test('ChunkLog.remove deletes the file and close is idempotent', async (t) => {
  const path = await tempLog(t);
  const log = await ChunkLog.create(path, HEADER, [], { durable: false });
  await log.close();
  await log.close();
  await log.remove();
  assert.equal(await ChunkLog.load(path), undefined);
  await assert.rejects(log.append([entry(0)]), { code: 'INTERNAL' });
});
