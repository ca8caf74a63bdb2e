import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FramedSocket, SecureChannel } from '../../src/channel/index.js';
import { FerryError } from '../../src/errors/index.js';
import { sealOne } from '../../src/transfer/pipeline/seal-block.js';
import { encodeMessage, writeFrameHeader, type Message } from '../../src/protocol/index.js';
import { CipherState, SessionCipher } from '../../src/crypto/index.js';
import { keyedChannel, keyedCipher as keyed, socketPair } from '../helpers/loopback-socket-pair.js';

function record(cipher: SessionCipher, message: Message): Buffer {
  const sealed = cipher.seal(encodeMessage(message));
  const frame = Buffer.alloc(2 + sealed.length);
  writeFrameHeader(sealed.length, frame, 0);
  sealed.copy(frame, 2);
  return frame;
}

const data = (offset: number, length: number): Message => ({
  type: 'PUT_DATA',
  ref: 1,
  offset,
  data: Buffer.alloc(length, offset & 0xff),
});

test('records opened on arrival come out in order, split anyhow across reads and across a rekey', async () => {
  const pair = await socketPair();
  try {
    const key = Buffer.alloc(32, 7);
    const sender = keyed(key, 3);
    const channel = keyedChannel(pair.accepted, key, 3);
    const messages = Array.from({ length: 10 }, (_, i) => data(i * 65000, 60_000 + i));
    const wire = Buffer.concat(messages.map((m) => record(sender, m)));
    // Odd-sized writes, so records straddle the reads.
    for (let at = 0; at < wire.length; at += 7777) pair.dialled.write(wire.subarray(at, at + 7777));
    for (const expected of messages) assert.deepEqual(await channel.receive(), expected);
    channel.close();
  } finally {
    pair.close();
  }
});

test('a corrupted record is refused after the records before it, and ends the channel', async () => {
  const pair = await socketPair();
  try {
    const key = Buffer.alloc(32, 9);
    const sender = keyed(key);
    const channel = keyedChannel(pair.accepted, key);
    const good = [data(0, 1000), data(1000, 70), data(1070, 5)];
    const goodRecords = good.map((m) => record(sender, m));
    const bad = record(sender, data(2000, 500));
    bad[bad.length - 3]! ^= 1;
    pair.dialled.write(Buffer.concat([...goodRecords, bad, record(sender, data(3000, 9))]));
    for (const expected of good) assert.deepEqual(await channel.receive(), expected);
    await assert.rejects(
      channel.receive(),
      (err: unknown) => err instanceof FerryError && err.code === 'DECRYPT_FAILED',
    );
    assert.equal(channel.closed, true);
    await assert.rejects(
      channel.receive(),
      (err: unknown) => err instanceof FerryError && err.code === 'DECRYPT_FAILED',
    );
  } finally {
    pair.close();
  }
});

test('a message sent while records are reserved for sealing elsewhere is held and written after them', async () => {
  const pair = await socketPair();
  try {
    const key = Buffer.alloc(32, 5);
    const sending = keyedChannel(pair.dialled, key, 2);
    const receiving = keyedChannel(pair.accepted, key, 2);
    const reserved = [data(0, 100), data(100, 200), data(300, 300)];
    // A rekey interval of 2: the three reserved nonces span a key change.
    const ranges = sending.reserveRecords(reserved.length);
    assert.throws(
      () => sending.writeFramed(Buffer.alloc(4), 4),
      (err: unknown) => err instanceof FerryError && err.code === 'INTERNAL',
    );
    const held = sending.send({ type: 'ACK', ref: 7 });
    const framed: Buffer[] = [];
    let next = 0;
    for (const range of ranges) {
      for (let i = 0; i < range.count; i++) {
        framed.push(
          sealOne(
            { key: Buffer.from(range.key), nonce: range.nonce + i, count: 1 },
            encodeMessage(reserved[next++]!),
          ),
        );
      }
      range.key.fill(0);
    }
    await sending.writeFramed(Buffer.concat(framed), reserved.length);
    await held;
    await sending.send({ type: 'ACK', ref: 8 });
    for (const expected of reserved) assert.deepEqual(await receiving.receive(), expected);
    assert.deepEqual(await receiving.receive(), { type: 'ACK', ref: 7 });
    assert.deepEqual(await receiving.receive(), { type: 'ACK', ref: 8 });
    sending.close();
    receiving.close();
  } finally {
    pair.close();
  }
});

test('a send key passing its time bound while records are reserved: the REKEY takes the next nonce and is held in order', async () => {
  const pair = await socketPair();
  try {
    const key = Buffer.alloc(32, 3);
    let time = 0;
    const clocked = (): SessionCipher => {
      const send = new CipherState();
      const receive = new CipherState();
      send.initializeKey(key);
      receive.initializeKey(key);
      return new SessionCipher(send, receive, { now: () => time });
    };
    const sending = new SecureChannel(
      new FramedSocket(pair.dialled),
      clocked(),
      Buffer.alloc(32),
      Buffer.alloc(32),
    );
    const receiving = keyedChannel(pair.accepted, key);
    const sealAll = (ranges: ReturnType<SecureChannel['reserveRecords']>, messages: Message[]): Buffer => {
      const framed: Buffer[] = [];
      let next = 0;
      for (const range of ranges) {
        for (let i = 0; i < range.count; i++) {
          framed.push(
            sealOne(
              { key: Buffer.from(range.key), nonce: range.nonce + i, count: 1 },
              encodeMessage(messages[next++]!),
            ),
          );
        }
      }
      return Buffer.concat(framed);
    };
    const first = [data(0, 100), data(100, 200)];
    const firstRanges = sending.reserveRecords(first.length);
    time += 120_000; // PROTOCOL.md §4.3's bound passes while `first` is still with the workers
    const held = sending.send({ type: 'ACK', ref: 7 }); // REKEY, then ACK under the new key: both held
    time += 120_000;
    const second = [data(300, 300), data(600, 40)];
    const secondRanges = sending.reserveRecords(second.length); // a second REKEY, held, before these nonces
    assert.equal(firstRanges.length, 1);
    assert.equal(secondRanges.length, 1);
    assert.ok(!secondRanges[0]!.key.equals(firstRanges[0]!.key), 'the reserved records use the new key');
    // Rekey() keeps the nonce counting (Noise §4.2): 0-1 reserved, 2 REKEY, 3 ACK, 4 REKEY, then these.
    assert.equal(secondRanges[0]!.nonce, 5, 'the reservation comes after both REKEYs and the ACK');
    const secondFramed = sealAll(secondRanges, second);
    await sending.writeFramed(sealAll(firstRanges, first), first.length);
    await held;
    await sending.writeFramed(secondFramed, second.length);
    for (const expected of [...first, { type: 'ACK', ref: 7 }, ...second]) {
      assert.deepEqual(await receiving.receive(), expected);
    }
    sending.close();
    receiving.close();
  } finally {
    pair.close();
  }
});
