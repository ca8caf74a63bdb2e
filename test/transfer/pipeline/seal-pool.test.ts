import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CipherState, SessionCipher, type NonceRange } from '../../../src/crypto/index.js';
import {
  ChunkHashes,
  FrameDecoder,
  MAX_RECORD_BYTES,
  MIN_RECORD_BYTES,
  PUT_DATA_HEADER_BYTES,
  chunkCount,
  chunkHashOf,
  decodeMessage,
  encodeMessage,
  writePutDataHeader,
} from '../../../src/protocol/index.js';
import { SourceFile, type ChunkSource } from '../../../src/transfer/index.js';
import { SealPool } from '../../../src/transfer/pipeline/seal-pool.js';
import { inFlightBlocks, streamChunksPooled } from '../../../src/transfer/pipeline/stream-chunks-pooled.js';
import { SeededRandom } from '../../helpers/seeded-random.js';

function pairOfCiphers(rekeyIntervalMessages: number): { sender: SessionCipher; receiver: SessionCipher } {
  const make = (): SessionCipher => {
    const send = new CipherState();
    const receive = new CipherState();
    send.initializeKey(Buffer.alloc(32, 3));
    receive.initializeKey(Buffer.alloc(32, 3));
    return new SessionCipher(send, receive, { rekeyIntervalMessages });
  };
  return { sender: make(), receiver: make() };
}

const KIB = 1024;
const streamCases = [
  // 5 chunks of 256 KiB and a short one: one block per chunk, chunks on alternating workers.
  { threads: 1, chunkBytes: 256 * KIB, size: 5 * 256 * KIB + 12345, order: [0, 1, 2, 3, 4, 5] },
  { threads: 2, chunkBytes: 256 * KIB, size: 5 * 256 * KIB + 12345, order: [0, 1, 2, 3, 4, 5] },
  // Chunks of 2 MiB: a chunk spans blocks (16 records, not a whole number of leaves: leaves cross blocks),
  // chunks out of order (a resumed transfer's), and a short last chunk of one whole leaf and a short one.
  { threads: 2, chunkBytes: 2048 * KIB, size: 2 * 2048 * KIB + 70000, order: [2, 0, 1] },
  { threads: 3, chunkBytes: 2048 * KIB, size: 2 * 2048 * KIB + 70000, order: [1, 2, 0] },
  // A source without a descriptor to lend (an object store's): read on the event loop, as before.
  { threads: 2, chunkBytes: 2048 * KIB, size: 2 * 2048 * KIB + 70000, order: [2, 0, 1], lend: false },
];

/** `source` as a ChunkSource that lends no descriptor (like an object store's `ObjectSource`). */
function withoutDescriptor(source: SourceFile): ChunkSource {
  return {
    size: source.size,
    mtimeMs: source.mtimeMs,
    mode: source.mode,
    identity: source.identity,
    readExactly: (...args) => source.readExactly(...args),
    readvExactly: (...args) => source.readvExactly(...args),
    chunkHash: (...args) => source.chunkHash(...args),
    assertUnchanged: () => source.assertUnchanged(),
    close: () => source.close(),
  };
}

for (const { threads, chunkBytes, size, order, lend = true } of streamCases) {
  const reads = lend ? 'read by the workers' : 'read on the event loop (no descriptor)';
  test(`a file streamed through a ${threads}-thread SealPool (chunks of ${chunkBytes / KIB} KiB, ${order.join(',')}, ${reads}) opens in order on the peer, across rekeys, byte-exact, with every chunk hash`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-seal-pool-'));
    const pool = new SealPool(threads);
    try {
      const random = new SeededRandom(threads + chunkBytes);
      const content = random.bytes(size);
      const path = join(dir, 'source');
      await writeFile(path, content);
      const source = await SourceFile.open(path);
      // A rekey every 7 records, so reserved ranges cross key changes inside blocks.
      const { sender, receiver } = pairOfCiphers(7);
      const wire: Buffer[] = [];
      const reservedKeys: Buffer[] = [];
      const hashes = new ChunkHashes(content.length, chunkBytes);
      const sent = await streamChunksPooled(lend ? source : withoutDescriptor(source), {
        chunkBytes,
        chunks: order.values(),
        hashes,
        sink: {
          pool,
          headerBytes: PUT_DATA_HEADER_BYTES,
          writeDataHeader: (target, offset) => writePutDataHeader(target, 0, 9, offset),
          reserve: (count): NonceRange[] => {
            const ranges = sender.reserveSend(count);
            reservedKeys.push(...ranges.map((r) => r.key));
            return ranges;
          },
          writeFramed: (framed) => {
            wire.push(Buffer.from(framed)); // reused once this resolves
            return Promise.resolve();
          },
          chunkMessage: (index, chunkHash) => encodeMessage({ type: 'PUT_CHUNK', ref: 9, index, chunkHash }),
        },
      });
      await source.close();
      assert.equal(sent, content.length);
      // Every key handed out was zeroed once used.
      assert.ok(reservedKeys.every((k) => k.every((b) => b === 0)));
      const received = Buffer.alloc(content.length);
      let chunksClosed = 0;
      const records = new FrameDecoder({ minLength: MIN_RECORD_BYTES, maxLength: MAX_RECORD_BYTES }).push(
        Buffer.concat(wire),
      );
      for (const record of records) {
        const message = decodeMessage(receiver.open(record));
        if (message.type === 'PUT_DATA') message.data.copy(received, message.offset);
        else if (message.type === 'PUT_CHUNK') {
          assert.equal(message.index, order[chunksClosed++]);
          const start = message.index * chunkBytes;
          assert.deepEqual(
            message.chunkHash,
            chunkHashOf(content.subarray(start, start + hashes.lengthOf(message.index))),
          );
        } else assert.fail(`unexpected ${message.type}`);
      }
      assert.equal(chunksClosed, chunkCount(content.length, chunkBytes));
      assert.deepEqual(received, content);
      // The sender's own cipher continues right after the reserved records: the next record still opens.
      assert.equal(
        decodeMessage(receiver.open(sender.seal(encodeMessage({ type: 'ACK', ref: 9 })))).type,
        'ACK',
      );
    } finally {
      await pool.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('`SessionCipher.reserveSend` splits at rekey points and matches sealing one by one', () => {
  const { sender, receiver: reference } = pairOfCiphers(4);
  sender.seal(Buffer.from('first'));
  reference.seal(Buffer.from('first'));
  for (let i = 0; i < 9; i++) reference.seal(Buffer.from('reserved'));
  const ranges = sender.reserveSend(9);
  assert.deepEqual(
    ranges.map((r) => [r.nonce, r.count]),
    [
      [1, 3],
      [4, 4],
      [8, 2],
    ],
  );
  // After the reservation the sender is where sealing the nine records one by one would have left it.
  assert.deepEqual(sender.seal(Buffer.from('x')), reference.seal(Buffer.from('x')));
});

test('the send window holds a whole chunk plus a block per worker, so the next chunk`s worker is not starved while the head chunk is sealed', () => {
  // Default 4 MiB chunks are 5 blocks (4 of 16 records, one short): 2 threads -> 5 + 2 + 1.
  assert.equal(inFlightBlocks(2, 5), 8);
  assert.equal(inFlightBlocks(2, 9), 12);
  // Small chunks: the per-thread floor.
  assert.equal(inFlightBlocks(2, 2), 6);
  assert.equal(inFlightBlocks(4, 5), 12);
  // Large chunks do not grow the window past an 8 MiB chunk's (memory stays bounded).
  assert.equal(inFlightBlocks(2, 65), inFlightBlocks(2, 9));
});

test(
  'with every result held back, a 2-thread send dispatches blocks of the next chunk to the other worker',
  { timeout: 60_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-seal-window-'));
    const pool = new SealPool(2);
    try {
      const chunkBytes = 4096 * KIB;
      // A 4 MiB chunk (5 blocks) and a 3 MiB one (4 blocks).
      const content = new SeededRandom(7).bytes(chunkBytes + 3072 * KIB);
      const path = join(dir, 'source');
      await writeFile(path, content);
      const source = await SourceFile.open(path);
      const { sender } = pairOfCiphers(1000);
      // The real pool seals; its results are released only once the window is full, to see how far it reaches.
      const window = inFlightBlocks(2, 5);
      const held: Array<() => void> = [];
      const dispatchedChunks: number[] = [];
      let full!: () => void;
      const windowFull = new Promise<void>((resolve) => (full = resolve));
      const gated = Object.create(pool) as SealPool;
      gated.seal = (job) => {
        dispatchedChunks.push(job.chunk);
        const sealing = pool.seal(job);
        const released = new Promise<void>((resolve) => held.push(resolve));
        if (dispatchedChunks.length === window) full();
        return released.then(() => sealing);
      };
      gated.hashId = () => pool.hashId();
      const streaming = streamChunksPooled(source, {
        chunkBytes,
        chunks: [0, 1].values(),
        hashes: new ChunkHashes(content.length, chunkBytes),
        sink: {
          pool: gated,
          headerBytes: PUT_DATA_HEADER_BYTES,
          writeDataHeader: (target, offset) => writePutDataHeader(target, 0, 9, offset),
          reserve: (count) => sender.reserveSend(count),
          writeFramed: () => Promise.resolve(),
          chunkMessage: (index, chunkHash) => encodeMessage({ type: 'PUT_CHUNK', ref: 9, index, chunkHash }),
        },
      });
      await windowFull;
      // The head chunk's 5 blocks, then 3 of the next chunk (on the other worker) before any result came back.
      const [first] = dispatchedChunks;
      assert.equal(dispatchedChunks.filter((c) => c === first).length, 5);
      assert.equal(dispatchedChunks.filter((c) => c !== first).length, 3);
      for (const release of held) release();
      // The rest flows without holding.
      gated.seal = (job) => pool.seal(job);
      assert.equal(await streaming, content.length);
      await source.close();
    } finally {
      await pool.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
