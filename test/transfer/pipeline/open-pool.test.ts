import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { FramedSocket, SecureChannel } from '../../../src/channel/index.js';
import { FerryError } from '../../../src/errors/index.js';
import {
  ChunkHasher,
  LEAF_BYTES,
  chunkHashOf,
  encodeMessage,
  leafHash,
  takeLeafHash,
  writeFrameHeader,
  type Message,
  type OpenJob,
  type OpenResult,
  type ParallelOpener,
} from '../../../src/protocol/index.js';
import { SealPool } from '../../../src/transfer/pipeline/seal-pool.js';
import { SeededRandom } from '../../helpers/seeded-random.js';
import { keyedCipher, socketPair } from '../../helpers/loopback-socket-pair.js';

/** Both keys 11…11: one side's records open with the other's cipher. */
const keyed = (rekeyIntervalMessages: number) => keyedCipher(Buffer.alloc(32, 11), rekeyIntervalMessages);

function frame([body, tag]: [Buffer, Buffer]): Buffer {
  const out = Buffer.alloc(2 + body.length + tag.length);
  writeFrameHeader(body.length + tag.length, out, 0);
  body.copy(out, 2);
  tag.copy(out, 2 + body.length);
  return out;
}

/** A file's bytes as full PUT_DATA records (the sender's record size), with a PUT_CHUNK after each chunk. */
function fileMessages(content: Buffer, chunkBytes: number): Message[] {
  const messages: Message[] = [];
  const perRecord = 65506;
  for (let chunk = 0; chunk * chunkBytes < content.length; chunk++) {
    const end = Math.min(content.length, (chunk + 1) * chunkBytes);
    for (let at = chunk * chunkBytes; at < end; at += perRecord) {
      messages.push({
        type: 'PUT_DATA',
        ref: 3,
        offset: at,
        data: content.subarray(at, Math.min(end, at + perRecord)),
      });
    }
    messages.push({
      type: 'PUT_CHUNK',
      ref: 3,
      index: chunk,
      chunkHash: chunkHashOf(content.subarray(chunk * chunkBytes, end)),
    });
  }
  return messages;
}

/** Opens through `inner`, but resolves each pair of jobs in reverse order: results come back out of order. */
class ReversingOpener implements ParallelOpener {
  readonly threads: number;
  readonly #inner: ParallelOpener;
  #held: Array<() => void> = [];
  jobs = 0;
  inFlight = 0;
  maxInFlight = 0;
  constructor(inner: ParallelOpener) {
    this.#inner = inner;
    this.threads = inner.threads;
  }
  async open(job: OpenJob): Promise<OpenResult> {
    this.jobs += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const result = await this.#inner.open(job);
    if (this.#held.length === 0 && this.jobs % 2 === 1) {
      // Held until the next job has resolved (or a moment passes with none coming).
      await new Promise<void>((resolve) => {
        this.#held.push(resolve);
        setImmediate(() => setImmediate(() => this.#release()));
      });
    } else {
      this.#release();
    }
    this.inFlight -= 1;
    return result;
  }
  #release(): void {
    const held = this.#held;
    this.#held = [];
    for (const r of held) queueMicrotask(r);
  }
}

test('records opened on 2 worker threads come out in order, byte-exact, across count rekeys and REKEY records, results out of order', async () => {
  const pool = new SealPool(2);
  const pair = await socketPair();
  try {
    const random = new SeededRandom(21);
    const chunkBytes = 256 * 1024;
    const content = random.bytes(6 * chunkBytes + 77777);
    const messages = fileMessages(content, chunkBytes);
    const sender = keyed(5); // a count rekey every 5 records: ranges cross key changes inside blocks
    const wire: Buffer[] = [];
    messages.forEach((m, i) => {
      // A time-bound REKEY (PROTOCOL.md §4.3) every 9 messages, while earlier records are with workers.
      if (i % 9 === 4) wire.push(frame(sender.sealRekey()));
      wire.push(frame(sender.sealParts(encodeMessage(m))));
    });
    const receiving = new SecureChannel(
      new FramedSocket(pair.accepted),
      keyed(5),
      Buffer.alloc(32),
      Buffer.alloc(32),
    );
    const opener = new ReversingOpener(pool);
    receiving.openInParallel(opener);
    const bytes = Buffer.concat(wire);
    for (let at = 0; at < bytes.length; at += 50_001) pair.dialled.write(bytes.subarray(at, at + 50_001));
    const hasher = new ChunkHasher();
    let hinted = 0;
    for (const expected of messages) {
      const got = await receiving.receive();
      assert.deepEqual(got, expected);
      if (got.type === 'PUT_DATA') {
        // Every leaf start inside this record that a worker hashed carries exactly that leaf's hash.
        const first = Math.ceil(got.offset / LEAF_BYTES) * LEAF_BYTES;
        if (first < got.offset + got.data.length && first + LEAF_BYTES <= content.length) {
          const at = first - got.offset;
          const known = takeLeafHash(got.data, at);
          if (known !== undefined) {
            hinted += 1;
            assert.deepEqual(known, leafHash(content.subarray(first, first + LEAF_BYTES)));
          }
        }
      }
    }
    assert.ok(opener.jobs >= 2, `${opener.jobs} jobs`);
    assert.ok(hinted > 10, `${hinted} leaves hashed by workers`);
    receiving.close();
    void hasher;
  } finally {
    pair.close();
    await pool.close();
  }
});

test("a chunk received through the pool hashes, with the workers' leaves, to its chunk hash", async () => {
  const pool = new SealPool(2);
  const pair = await socketPair();
  try {
    const content = new SeededRandom(5).bytes(3 * 1024 * 1024 + 999);
    const messages = fileMessages(content, 1024 * 1024);
    const sender = keyed(1000);
    const receiving = new SecureChannel(
      new FramedSocket(pair.accepted),
      keyed(1000),
      Buffer.alloc(32),
      Buffer.alloc(32),
    );
    receiving.openInParallel(pool);
    pair.dialled.write(Buffer.concat(messages.map((m) => frame(sender.sealParts(encodeMessage(m))))));
    const hasher = new ChunkHasher();
    for (let i = 0; i < messages.length; i++) {
      const got = await receiving.receive();
      if (got.type === 'PUT_DATA') hasher.update(got.data);
      else if (got.type === 'PUT_CHUNK')
        assert.deepEqual(hasher.digest(), got.chunkHash, `chunk ${got.index}`);
    }
    receiving.close();
  } finally {
    pair.close();
    await pool.close();
  }
});

test('a wrong tag in a record a worker opens fails with DECRYPT_FAILED after the records before it, nothing after', async () => {
  const pool = new SealPool(2);
  const pair = await socketPair();
  try {
    const content = new SeededRandom(8).bytes(40 * 65506);
    const messages = fileMessages(content, 4 * 1024 * 1024).filter((m) => m.type === 'PUT_DATA');
    const sender = keyed(1000);
    const records = messages.map((m) => frame(sender.sealParts(encodeMessage(m))));
    const bad = 23;
    records[bad]![records[bad]!.length - 5]! ^= 0x40;
    const receiving = new SecureChannel(
      new FramedSocket(pair.accepted),
      keyed(1000),
      Buffer.alloc(32),
      Buffer.alloc(32),
    );
    receiving.openInParallel(pool);
    pair.dialled.write(Buffer.concat(records));
    for (let i = 0; i < bad; i++) assert.deepEqual(await receiving.receive(), messages[i]);
    await assert.rejects(
      receiving.receive(),
      (err: unknown) => err instanceof FerryError && err.code === 'DECRYPT_FAILED',
    );
    assert.equal(receiving.closed, true);
    await assert.rejects(receiving.receive(), (err: unknown) => err instanceof FerryError);
  } finally {
    pair.close();
    await pool.close();
  }
});

test('a wrong tag on a short record opened on the event loop fails after the records with workers', async () => {
  const pool = new SealPool(2);
  const pair = await socketPair();
  try {
    const content = new SeededRandom(9).bytes(20 * 65506);
    const messages = fileMessages(content, 20 * 65506); // 20 data records, then one PUT_CHUNK
    const sender = keyed(1000);
    const records = messages.map((m) => frame(sender.sealParts(encodeMessage(m))));
    records.push(frame(sender.sealParts(encodeMessage(messages[0]!))));
    records[20]![records[20]!.length - 1]! ^= 1; // the PUT_CHUNK
    const receiving = new SecureChannel(
      new FramedSocket(pair.accepted),
      keyed(1000),
      Buffer.alloc(32),
      Buffer.alloc(32),
    );
    receiving.openInParallel(pool);
    pair.dialled.write(Buffer.concat(records));
    for (let i = 0; i < 20; i++) assert.deepEqual(await receiving.receive(), messages[i]);
    await assert.rejects(
      receiving.receive(),
      (err: unknown) => err instanceof FerryError && err.code === 'DECRYPT_FAILED',
    );
  } finally {
    pair.close();
    await pool.close();
  }
});

test('a reader that stops reading bounds what the pool holds: the socket pauses, the sender is pushed back', async () => {
  const pool = new SealPool(2);
  const pair = await socketPair();
  try {
    const content = new SeededRandom(10).bytes(65506);
    const sender = keyed(100_000);
    const record = (offset: number): Buffer =>
      frame(sender.sealParts(encodeMessage({ type: 'PUT_DATA', ref: 1, offset, data: content })));
    const receiving = new SecureChannel(
      new FramedSocket(pair.accepted),
      keyed(100_000),
      Buffer.alloc(32),
      Buffer.alloc(32),
    );
    const opener = new ReversingOpener(pool);
    receiving.openInParallel(opener);
    // 64 MiB offered, nothing read: the sender must be pushed back long before.
    let written = 0;
    while (written < 1024) {
      if (!pair.dialled.write(record(written * 65506))) {
        await Promise.race([once(pair.dialled, 'drain'), new Promise((r) => setTimeout(r, 300))]);
        if (pair.dialled.writableNeedDrain) break;
      }
      written += 1;
    }
    assert.ok(written < 1024, 'the sender was never pushed back');
    // At most 2 blocks per thread with workers, plus the block being filled, plus one read, plus frames queued.
    assert.ok(pair.accepted.bytesRead < 16 * 1024 * 1024, `${pair.accepted.bytesRead} bytes read unconsumed`);
    assert.ok(opener.maxInFlight <= 4, `${opener.maxInFlight} blocks with workers at once`);
    // Reading again drains everything in order.
    for (let i = 0; i < written; i++) {
      const got = await receiving.receive();
      assert.equal(got.type === 'PUT_DATA' && got.offset, i * 65506);
    }
    receiving.close();
  } finally {
    pair.close();
    await pool.close();
  }
});

test('a default 4 MiB chunk goes to the workers as two blocks, and at most one of its leaves is hashed on the event loop', async () => {
  const pool = new SealPool(2);
  // One read holding the whole stream: every block is filled as far as it goes before any is posted, so where
  // blocks end depends only on the block's size, not on how the socket happened to split the bytes.
  const wire = new PassThrough({ highWaterMark: 64 * 1024 * 1024 });
  try {
    const chunkBytes = 4 * 1024 * 1024;
    const chunks = 2;
    const content = new SeededRandom(12).bytes(chunks * chunkBytes);
    const messages = fileMessages(content, chunkBytes);
    const sender = keyed(100_000);
    const receiving = new SecureChannel(
      new FramedSocket(wire as unknown as Socket),
      keyed(100_000),
      Buffer.alloc(32),
      Buffer.alloc(32),
    );
    const opener = new ReversingOpener(pool);
    receiving.openInParallel(opener);
    wire.write(Buffer.concat(messages.map((m) => frame(sender.sealParts(encodeMessage(m))))));
    let hinted = 0;
    for (const expected of messages) {
      const got = await receiving.receive();
      assert.deepEqual(got, expected);
      if (got.type !== 'PUT_DATA') continue;
      const first = Math.ceil(got.offset / LEAF_BYTES) * LEAF_BYTES;
      if (first < got.offset + got.data.length && takeLeafHash(got.data, first - got.offset) !== undefined)
        hinted += 1;
    }
    // 65 data records and a PUT_CHUNK per chunk: blocks of 32 full records and the short one (16 and 17 before).
    assert.equal(opener.jobs, 2 * chunks);
    assert.equal(hinted, chunks * (chunkBytes / LEAF_BYTES - 1));
    receiving.close();
  } finally {
    wire.destroy();
    await pool.close();
  }
});
