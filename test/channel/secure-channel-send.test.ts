import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FramedSocket, SecureChannel } from '../../src/channel/index.js';
import { CipherState, SessionCipher, isRekeyMessage } from '../../src/crypto/index.js';
import {
  ChunkHashes,
  PUT_DATA_HEADER_BYTES,
  decodeMessage,
  encodeMessage,
  writePutDataHeader,
  type Message,
} from '../../src/protocol/index.js';
import { SourceFile, streamChunks, type ChunkSource } from '../../src/transfer/index.js';
import { sealOne } from '../../src/transfer/pipeline/seal-block.js';
import { keyedChannel, socketPair } from '../helpers/loopback-socket-pair.js';

const data = (offset: number, length: number): Message => ({
  type: 'PUT_DATA',
  ref: 1,
  offset,
  data: Buffer.alloc(length, offset & 0xff),
});

/** Every byte `socket` receives until the peer ends. */
async function allBytes(socket: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  socket.on('data', (b: Buffer) => parts.push(b));
  await once(socket, 'end');
  return Buffer.concat(parts);
}

/** The raw bytes a channel keyed with `key` writes when `send` drives it. */
async function wireOf(
  key: Buffer,
  rekeyInterval: number,
  send: (channel: SecureChannel) => Promise<void>,
): Promise<Buffer> {
  const pair = await socketPair();
  try {
    const received = allBytes(pair.accepted);
    const channel = keyedChannel(pair.dialled, key, rekeyInterval);
    await send(channel);
    await channel.end();
    return await received;
  } finally {
    pair.close();
  }
}

test('SecureChannel.sendPlaintexts writes exactly the records sendPlaintext would, one by one, across a rekey', async () => {
  const key = Buffer.alloc(32, 11);
  const block = Array.from({ length: 10 }, (_, i) => encodeMessage(data(i * 70_000, 60_000 + i)));
  // A rekey interval of 3: the block spans three key changes.
  const oneByOne = await wireOf(key, 3, async (channel) => {
    for (const plaintext of block) await channel.sendPlaintext(plaintext);
  });
  const gathered = await wireOf(key, 3, (channel) => channel.sendPlaintexts(block));
  assert.equal(gathered.length, oneByOne.length);
  assert.ok(gathered.equals(oneByOne), 'the gathered write differs from the records sent one by one');
});

test('a block sent with sendPlaintexts is opened by the peer in order, and its plaintexts may be reused at once', async () => {
  const pair = await socketPair();
  try {
    const key = Buffer.alloc(32, 12);
    const sending = keyedChannel(pair.dialled, key, 4);
    const receiving = keyedChannel(pair.accepted, key, 4);
    const messages = Array.from({ length: 7 }, (_, i) => data(i * 1000, 900 + i));
    const plaintexts = messages.map((m) => encodeMessage(m));
    const sent = sending.sendPlaintexts(plaintexts);
    // Sealed before the call returned: overwriting the plaintexts now must not change what goes out.
    for (const p of plaintexts) p.fill(0xee);
    await sent;
    for (const expected of messages) assert.deepEqual(await receiving.receive(), expected);
    sending.close();
    receiving.close();
  } finally {
    pair.close();
  }
});

test('a send key passing its time bound before a block: a REKEY record goes first and the peer follows', async () => {
  const key = Buffer.alloc(32, 13);
  let time = 0;
  const clocked = (): SessionCipher => {
    const send = new CipherState();
    const receive = new CipherState();
    send.initializeKey(key);
    receive.initializeKey(key);
    return new SessionCipher(send, receive, { now: () => time, rekeyIntervalMs: 1000 });
  };
  const first = [data(0, 10), data(10, 20)];
  const second = [data(30, 30), data(60, 40), data(100, 50)];
  const pair = await socketPair();
  let wire: Buffer;
  try {
    const received = allBytes(pair.accepted);
    const sending = new SecureChannel(
      new FramedSocket(pair.dialled),
      clocked(),
      Buffer.alloc(32),
      Buffer.alloc(32),
    );
    await sending.sendPlaintexts(first.map((m) => encodeMessage(m)));
    time = 5000;
    await sending.sendPlaintexts(second.map((m) => encodeMessage(m)));
    await sending.end();
    wire = await received;
  } finally {
    pair.close();
  }
  const receiver = clocked();
  const opened: Buffer[] = [];
  for (let at = 0; at < wire.length;) {
    const length = wire.readUInt16BE(at);
    opened.push(receiver.open(wire.subarray(at + 2, at + 2 + length)));
    at += 2 + length;
  }
  // Two records, the one-byte REKEY (PROTOCOL.md §4.3), then three records under the new key.
  assert.deepEqual(
    opened.map((p) => p.length),
    [...first.map((m) => encodeMessage(m).length), 1, ...second.map((m) => encodeMessage(m).length)],
  );
  assert.ok(isRekeyMessage(opened[2]!));
  assert.deepEqual(
    [...opened.slice(0, 2), ...opened.slice(3)].map((p) => decodeMessage(p)),
    [...first, ...second],
  );
});

test('a block sent while records are reserved for sealing elsewhere is held and written after them', async () => {
  const pair = await socketPair();
  try {
    const key = Buffer.alloc(32, 14);
    const sending = keyedChannel(pair.dialled, key);
    const receiving = keyedChannel(pair.accepted, key);
    const reserved = [data(0, 100), data(100, 200)];
    const [range] = sending.reserveRecords(reserved.length);
    const block = [data(300, 5), data(305, 6)];
    const held = sending.sendPlaintexts(block.map((m) => encodeMessage(m)));
    const framed = reserved.map((m, i) =>
      sealOne({ key: Buffer.from(range!.key), nonce: range!.nonce + i, count: 1 }, encodeMessage(m)),
    );
    range!.key.fill(0);
    await sending.writeFramed(Buffer.concat(framed), reserved.length);
    await held;
    for (const expected of [...reserved, ...block]) assert.deepEqual(await receiving.receive(), expected);
    sending.close();
    receiving.close();
  } finally {
    pair.close();
  }
});

test('streamChunks with a block sink puts the same bytes on the wire as record by record', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-send-block-'));
  try {
    const path = join(dir, 'f');
    // Two and a half 1 MiB chunks: blocks of 16 records, a short block at each chunk's end, a short last record.
    await writeFile(path, randomBytes(2.5 * 1024 * 1024 + 77));
    const key = Buffer.alloc(32, 15);
    const run = (blocks: boolean) => async (channel: SecureChannel) => {
      const source = await SourceFile.open(path);
      try {
        const hashes = new ChunkHashes(source.size, 1024 * 1024);
        await streamChunks(source, {
          chunkBytes: 1024 * 1024,
          chunks: [0, 1, 2][Symbol.iterator](),
          hashes,
          sink: {
            headerBytes: PUT_DATA_HEADER_BYTES,
            writeDataHeader: (target, fileOffset) => writePutDataHeader(target, 0, 1, fileOffset),
            sendData: (plaintext) => channel.sendPlaintext(plaintext),
            ...(blocks ? { sendDataBlock: (plaintexts) => channel.sendPlaintexts(plaintexts) } : {}),
            sendChunk: (index, chunkHash) => channel.send({ type: 'PUT_CHUNK', ref: 1, index, chunkHash }),
          },
        });
      } finally {
        await source.close();
      }
    };
    const oneByOne = await wireOf(key, 5, run(false));
    const gathered = await wireOf(key, 5, run(true));
    assert.ok(oneByOne.length > 2.5 * 1024 * 1024);
    assert.ok(gathered.equals(oneByOne), 'block writes changed the bytes on the wire');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('streamChunks reads chunks of one leaf 16 records at a time, each closing message in its block’s gathered write: the same bytes on the wire', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-send-leaves-'));
  try {
    const path = join(dir, 'f');
    const leaf = 64 * 1024;
    // 40 leaves and a short one; the chunks sent lie in three runs (a delta's leaves not held, issue 16).
    await writeFile(path, randomBytes(40 * leaf + 999));
    const chunks = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 25, 26, 38, 39, 40];
    const key = Buffer.alloc(32, 16);
    const counts = { reads: 0, writes: 0 };
    const run = (gathered: boolean) => async (channel: SecureChannel) => {
      const file = await SourceFile.open(path);
      const source: ChunkSource = {
        size: file.size,
        mtimeMs: file.mtimeMs,
        mode: file.mode,
        identity: file.identity,
        readExactly: (...args) => file.readExactly(...args),
        readvExactly: (...args) => {
          if (gathered) counts.reads++;
          return file.readvExactly(...args);
        },
        chunkHash: (...args) => file.chunkHash(...args),
        assertUnchanged: () => file.assertUnchanged(),
        close: () => file.close(),
      };
      try {
        const hashes = new ChunkHashes(source.size, leaf);
        const chunkMessage = (index: number, chunkHash: Buffer): Buffer =>
          encodeMessage({ type: 'PUT_CHUNK', ref: 1, index, chunkHash });
        await streamChunks(source, {
          chunkBytes: leaf,
          chunks: chunks[Symbol.iterator](),
          hashes,
          sink: {
            headerBytes: PUT_DATA_HEADER_BYTES,
            writeDataHeader: (target, fileOffset) => writePutDataHeader(target, 0, 1, fileOffset),
            sendData: (plaintext) => channel.sendPlaintext(plaintext),
            sendChunk: (index, chunkHash) => channel.send({ type: 'PUT_CHUNK', ref: 1, index, chunkHash }),
            ...(gathered
              ? {
                  sendDataBlock: (plaintexts: readonly Buffer[]) => {
                    counts.writes++;
                    return channel.sendPlaintexts(plaintexts);
                  },
                  chunkMessage,
                }
              : {}),
          },
        });
      } finally {
        await source.close();
      }
    };
    const oneByOne = await wireOf(key, 5, run(false));
    const gathered = await wireOf(key, 5, run(true));
    assert.ok(gathered.equals(oneByOne), 'reading and writing leaves together changed the bytes on the wire');
    // A leaf is two records (a record carries a little less than 64 KiB), so a read of 16 records is 8 leaves:
    // 0-7, 8-15, 16-18 (25 is not next to 18), 25-26, 38-40: five reads and five writes, not 24 of each.
    assert.deepEqual(counts, { reads: 5, writes: 5 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
