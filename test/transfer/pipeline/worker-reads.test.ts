// A SealPool's workers read their own blocks through the descriptor a SourceFile lends (issue 14). What must
// hold: a file that shrinks under them fails the stream with SOURCE_CHANGED yet every reserved nonce still
// reaches the peer in order (the session goes on) and no chunk past the short read counts anywhere; and the
// file is not closed while a worker may still read through its descriptor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fstatSync, read } from 'node:fs';
import { promisify } from 'node:util';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CipherState, SessionCipher } from '../../../src/crypto/index.js';
import {
  ChunkHashes,
  FrameDecoder,
  MAX_RECORD_BYTES,
  MIN_RECORD_BYTES,
  PUT_DATA_HEADER_BYTES,
  chunkHashOf,
  decodeMessage,
  encodeMessage,
  writePutDataHeader,
} from '../../../src/protocol/index.js';
import { SourceFile } from '../../../src/transfer/index.js';
import { SealPool } from '../../../src/transfer/pipeline/seal-pool.js';
import { streamChunksPooled } from '../../../src/transfer/pipeline/stream-chunks-pooled.js';
import { SeededRandom } from '../../helpers/seeded-random.js';

const KIB = 1024;

function keyed(): SessionCipher {
  const send = new CipherState();
  const receive = new CipherState();
  send.initializeKey(Buffer.alloc(32, 5));
  receive.initializeKey(Buffer.alloc(32, 5));
  return new SessionCipher(send, receive);
}

test('a file that shrinks under the workers fails with SOURCE_CHANGED; every reserved record still reaches the peer in order and no chunk past the end counts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-worker-reads-'));
  const pool = new SealPool(2);
  try {
    const chunkBytes = 256 * KIB;
    const content = new SeededRandom(11).bytes(6 * chunkBytes);
    const path = join(dir, 'source');
    await writeFile(path, content);
    const source = await SourceFile.open(path);
    // Cut inside chunk 2 after the file was opened: every read from there on comes up short.
    const keptBytes = 2 * chunkBytes + 1000;
    await truncate(path, keptBytes);
    const sender = keyed();
    const receiver = keyed();
    const wire: Buffer[] = [];
    const counted: number[] = [];
    const hashes = new ChunkHashes(content.length, chunkBytes);
    await assert.rejects(
      streamChunksPooled(source, {
        chunkBytes,
        chunks: [0, 1, 2, 3, 4, 5].values(),
        hashes,
        sink: {
          pool,
          headerBytes: PUT_DATA_HEADER_BYTES,
          writeDataHeader: (target, offset) => writePutDataHeader(target, 0, 4, offset),
          reserve: (count) => sender.reserveSend(count),
          writeFramed: (framed) => {
            wire.push(Buffer.from(framed));
            return Promise.resolve();
          },
          chunkMessage: (index, chunkHash) => encodeMessage({ type: 'PUT_CHUNK', ref: 4, index, chunkHash }),
          chunkSent: (index) => void counted.push(index),
        },
      }),
      (err: unknown) => {
        assert.equal((err as { code?: string }).code, 'SOURCE_CHANGED');
        assert.match(
          (err as Error).message,
          new RegExp(`file ended at ${keptBytes}, expected ${content.length}`),
        );
        return true;
      },
    );
    // The descriptor was given back: the file closes.
    await source.close();
    const closings: Array<{ index: number; chunkHash: Buffer }> = [];
    const records = new FrameDecoder({ minLength: MIN_RECORD_BYTES, maxLength: MAX_RECORD_BYTES }).push(
      Buffer.concat(wire),
    );
    for (const record of records) {
      // Opens in nonce order, or throws: no reserved nonce was skipped.
      const message = decodeMessage(receiver.open(record));
      if (message.type === 'PUT_CHUNK') closings.push({ index: message.index, chunkHash: message.chunkHash });
      else assert.equal(message.type, 'PUT_DATA');
    }
    // The chunks read whole count and carry their hashes; chunk 2, cut short, and any closed after it do not.
    assert.deepEqual(counted, [0, 1]);
    assert.deepEqual(hashes.get(0), chunkHashOf(content.subarray(0, chunkBytes)));
    assert.deepEqual(hashes.get(1), chunkHashOf(content.subarray(chunkBytes, 2 * chunkBytes)));
    assert.equal(hashes.get(2), undefined);
    assert.ok(closings.length >= 3, `chunk 2 was closed too (${closings.length} closings)`);
    for (const { index, chunkHash } of closings.slice(2)) {
      assert.ok(index >= 2);
      assert.ok(chunkHash.equals(Buffer.alloc(32)), `chunk ${index} closed with a hash no chunk has`);
    }
    // The session goes on: the sender's next record opens at the peer.
    assert.equal(
      decodeMessage(receiver.open(sender.seal(encodeMessage({ type: 'ACK', ref: 4 })))).type,
      'ACK',
    );
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('SourceFile.close waits until every lent descriptor is returned', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-worker-reads-'));
  try {
    const path = join(dir, 'source');
    await writeFile(path, Buffer.from('lent descriptor'));
    const source = await SourceFile.open(path);
    const fd = source.lendFd();
    let closed = false;
    const closing = source.close().then(() => (closed = true));
    // A read through the lent descriptor on libuv's pool, issued after close: it still reads this file.
    const into = Buffer.alloc(4);
    const { bytesRead } = await promisify(read)(fd, into, 0, 4, 0);
    assert.equal(into.subarray(0, bytesRead).toString(), 'lent');
    assert.ok(fstatSync(fd).isFile());
    assert.equal(closed, false, 'closed while a descriptor was lent');
    source.returnFd();
    await closing;
    assert.equal(closed, true);
    assert.throws(() => source.lendFd(), /closed/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a stream whose SourceFile is closed meanwhile takes no more blocks; the close waits only for those taken', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-worker-reads-'));
  const pool = new SealPool(2);
  try {
    const chunkBytes = 4096 * KIB;
    const content = new SeededRandom(13).bytes(4 * chunkBytes);
    const path = join(dir, 'source');
    await writeFile(path, content);
    const source = await SourceFile.open(path);
    const sender = keyed();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let firstWrite!: () => void;
    const writing = new Promise<void>((resolve) => (firstWrite = resolve));
    let records = 0;
    const streaming = streamChunksPooled(source, {
      chunkBytes,
      chunks: [0, 1, 2, 3].values(),
      hashes: new ChunkHashes(content.length, chunkBytes),
      sink: {
        pool,
        headerBytes: PUT_DATA_HEADER_BYTES,
        writeDataHeader: (target, offset) => writePutDataHeader(target, 0, 4, offset),
        reserve: (count) => sender.reserveSend(count),
        // The socket holds the first write back until the file is being closed.
        writeFramed: async (_framed, count) => {
          firstWrite();
          await released;
          records += count;
        },
        chunkMessage: (index, chunkHash) => encodeMessage({ type: 'PUT_CHUNK', ref: 4, index, chunkHash }),
      },
    });
    streaming.catch(() => undefined);
    await writing;
    const closing = source.close();
    release();
    await assert.rejects(streaming, { code: 'ABORTED' });
    await closing;
    // What was taken went out (its nonces are reserved); the rest of the file was never read.
    assert.ok(records > 0 && records < content.length / (64 * KIB), `${records} records went out`);
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
});
