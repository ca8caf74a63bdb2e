// ChunkLog: the append-only, checked log behind a partial transfer's state (PROTOCOL.md §9.2).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ChunkLog,
  closedAs,
  closingSeal,
  decodeChunkLog,
  encodeClosingRecord,
  type ChunkEntry,
} from '../../src/transfer/index.js';
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

// The closing record (PROTOCOL.md §9.2), byte for byte: what a clean close appends and when a reader may
// take it. The expected bytes are built here from the spec's formula, not by the code under test.

const IDENTITY = Buffer.from(
  [1n, 2n, 3n, 4n, 5n].flatMap((v) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v * 0x0102030405060708n);
    return [...b];
  }),
);

function sha256(...parts: Buffer[]): Buffer {
  const h = createHash('sha256');
  for (const part of parts) h.update(part);
  return h.digest();
}

/** A log's bytes by the spec: magic, u16 header length, header, check, then 40-byte records. */
function logBytes(header: Buffer, records: Array<{ index: number; value: Buffer }>): Buffer {
  const head = Buffer.concat([Buffer.from('FERRYCL1'), Buffer.from([0, header.length]), header]);
  const parts = [head, sha256(head).subarray(0, 4)];
  for (const { index, value } of records) {
    const body = Buffer.alloc(36);
    body.writeUInt32BE(index, 0);
    value.copy(body, 4);
    parts.push(body, sha256(body).subarray(0, 4));
  }
  return Buffer.concat(parts);
}

/** The closing record's value for a log whose bytes before it are `before` (§9.2). */
function sealOf(before: Buffer, identity: Buffer): Buffer {
  return sha256(Buffer.from('ferry-partial-closed-v1'), sha256(before), identity);
}

test('ChunkLog.closeWith appends exactly the closing record of PROTOCOL.md §9.2 (index 0xffffffff, the seal over the log before it and the identity)', async (t) => {
  const path = await tempLog(t);
  const log = await ChunkLog.create(path, HEADER, [entry(0)], { durable: true });
  await log.append([entry(1)]);
  await log.closeWith(IDENTITY);
  const open = logBytes(HEADER, [
    { index: 0, value: entry(0).hash },
    { index: 1, value: entry(1).hash },
  ]);
  const expected = logBytes(HEADER, [
    { index: 0, value: entry(0).hash },
    { index: 1, value: entry(1).hash },
    { index: 0xffffffff, value: sealOf(open, IDENTITY) },
  ]);
  assert.deepEqual(await readFile(path), expected);
  await assert.rejects(log.append([entry(2)]), { code: 'INTERNAL' }, 'closed with the record');
});

test('decodeChunkLog reads a closing record built from the spec, and closedAs holds for that identity only', () => {
  const entries = [
    { index: 0, value: entry(0).hash },
    { index: 3, value: entry(3).hash },
  ];
  const before = logBytes(HEADER, entries);
  const bytes = logBytes(HEADER, [...entries, { index: 0xffffffff, value: sealOf(before, IDENTITY) }]);
  const log = decodeChunkLog(bytes);
  assert.ok(log);
  assert.deepEqual(log.entries, [entry(0), entry(3)], 'the closing record is no entry');
  assert.ok(closedAs(log, IDENTITY));
  // Any field of the identity moved (dev, ino, size, mtime, ctime), one bit each: no longer closed as it.
  for (let field = 0; field < 5; field++) {
    const moved = Buffer.from(IDENTITY);
    moved[field * 8 + 7]! ^= 0x01;
    assert.equal(closedAs(log, moved), false, `field ${field} moved`);
  }
  assert.equal(closedAs(log, IDENTITY.subarray(0, 32)), false, 'an identity of another length');
});

test('decodeChunkLog takes a closing record only as the last intact record of the log it was made for', () => {
  const entries = [{ index: 0, value: entry(0).hash }];
  const before = logBytes(HEADER, entries);
  const closing = { index: 0xffffffff, value: sealOf(before, IDENTITY) };
  const closed = logBytes(HEADER, [...entries, closing]);

  // Torn anywhere inside the record (a crash while closing): no closing record, the entries stand.
  for (const torn of [1, 4, 39]) {
    const log = decodeChunkLog(closed.subarray(0, closed.length - torn));
    assert.equal(log?.closing, undefined, `torn by ${torn}`);
    assert.deepEqual(log?.entries, [entry(0)]);
  }
  // A damaged record (its check fails): the log ends before it.
  const damaged = Buffer.from(closed);
  damaged[damaged.length - 20]! ^= 0x01;
  assert.equal(decodeChunkLog(damaged)?.closing, undefined, 'damaged');
  // An entry after it: the record no longer describes the log.
  const appended = logBytes(HEADER, [...entries, closing, { index: 1, value: entry(1).hash }]);
  const afterwards = decodeChunkLog(appended);
  assert.equal(afterwards?.closing, undefined, 'an entry after the closing record');
  assert.deepEqual(afterwards?.entries, [entry(0), entry(1)]);
  // The same record on a log with other entries (or another header): intact, but closed as nothing.
  for (const other of [
    logBytes(HEADER, [{ index: 1, value: entry(1).hash }, closing]),
    logBytes(Buffer.from('another header'), [...entries, closing]),
  ]) {
    const log = decodeChunkLog(other);
    assert.ok(log?.closing, 'the record itself is intact');
    assert.equal(closedAs(log, IDENTITY), false, 'bound to the log it closed');
  }
});

test('encodeClosingRecord and closingSeal agree with the formula of PROTOCOL.md §9.2', () => {
  const digest = sha256(Buffer.from('some log bytes'));
  const record = encodeClosingRecord(digest, IDENTITY);
  assert.equal(record.length, 40);
  assert.equal(record.readUInt32BE(0), 0xffffffff);
  const seal = sha256(Buffer.from('ferry-partial-closed-v1'), digest, IDENTITY);
  assert.deepEqual(record.subarray(4, 36), seal);
  assert.deepEqual(closingSeal(digest, IDENTITY), seal);
  assert.deepEqual(record.subarray(36), sha256(record.subarray(0, 36)).subarray(0, 4));
  assert.throws(() => closingSeal(digest, Buffer.alloc(39)), { code: 'INTERNAL' });
});

test('ChunkLog.reopen appends to an intact log as it stands (the seal covers every byte before it) and refuses a torn, damaged or missing one', async (t) => {
  const path = await tempLog(t);
  const identity = Buffer.alloc(40, 3);
  const first = await ChunkLog.create(path, HEADER, [entry(0)], { durable: true });
  await first.closeWith(identity);
  const { ino } = await stat(path);
  const reopened = await ChunkLog.reopen(path, { durable: true });
  assert.ok(reopened, 'an intact log reopens');
  assert.deepEqual(reopened.decoded.entries, [entry(0)]);
  assert.equal(reopened.decoded.records, 2, 'one entry and one closing record');
  assert.equal(reopened.decoded.intactBytes, (await stat(path)).size);
  await reopened.log.append([entry(1)]);
  await reopened.log.closeWith(identity);
  assert.equal((await stat(path)).ino, ino, 'the same file, appended to');
  const bytes = await readFile(path);
  const log = decodeChunkLog(bytes);
  assert.deepEqual(log?.entries, [entry(0), entry(1)], 'a closing record in the middle is no entry');
  assert.ok(log && closedAs(log, identity), 'the last closing record seals every byte before it');
  assert.equal(log.records, 4);

  await writeFile(path, bytes.subarray(0, bytes.length - 1));
  assert.equal(await ChunkLog.reopen(path, { durable: true }), undefined, 'a torn tail');
  assert.equal(decodeChunkLog(bytes.subarray(0, bytes.length - 1))?.intactBytes, bytes.length - ENTRY_BYTES);
  await writeFile(path, bytes);
  await flipByteAt(path, bytes.length - ENTRY_BYTES - 1);
  assert.equal(await ChunkLog.reopen(path, { durable: true }), undefined, 'a damaged record');
  assert.equal(await ChunkLog.reopen(`${path}.none`, { durable: true }), undefined, 'no log');
});
