// Socket reads into one reused buffer (ReusedReads, net.connect's `onread`): what FramedSocket keeps past a
// read (handshake bytes, records) must not change when the next read overwrites the buffer. Real loopback TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FramedSocket, ReusedReads, SecureChannel } from '../../src/channel/index.js';
import { FerryError } from '../../src/errors/index.js';
import { encodeMessage, writeFrameHeader, type Message } from '../../src/protocol/index.js';
import { keyedCipher as keyed, socketPair } from '../helpers/loopback-socket-pair.js';

test('handshake bytes and records read through one small reused buffer arrive intact and in order', async () => {
  // 1000 bytes: every record straddles several reads, and each read overwrites the last.
  const reads = new ReusedReads(1000);
  const sockets = await socketPair(reads.onread);
  try {
    const framed = new FramedSocket(sockets.dialled, reads);
    const preamble = Buffer.alloc(3000);
    for (let i = 0; i < preamble.length; i++) preamble[i] = (i * 7) & 0xff;
    sockets.accepted.write(preamble);
    const first = await framed.readExactly(1500);
    const second = await framed.readExactly(1500);
    assert.deepEqual(Buffer.concat([first, second]), preamble, 'kept handshake bytes are copies');

    const key = Buffer.alloc(32, 4);
    const sender = keyed(key);
    const channel = new SecureChannel(framed, keyed(key), Buffer.alloc(32), Buffer.alloc(32));
    const messages: Message[] = Array.from({ length: 12 }, (_, i) => ({
      type: 'PUT_DATA',
      ref: 1,
      offset: i * 50_000,
      data: Buffer.alloc(40_000 + i * 1000, i + 1),
    }));
    const wire = Buffer.concat(
      messages.map((m) => {
        const sealed = sender.seal(encodeMessage(m));
        const frame = Buffer.alloc(2 + sealed.length);
        writeFrameHeader(sealed.length, frame, 0);
        sealed.copy(frame, 2);
        return frame;
      }),
    );
    sockets.accepted.write(wire);
    // Read none until all arrived, so every record is queued while the buffer is overwritten.
    const received: Message[] = [];
    for (const _ of messages) received.push(await channel.receive());
    assert.deepEqual(received, messages);
    channel.close();
  } finally {
    sockets.close();
  }
});

test('reads before attach are kept as copies up to 64 KiB; beyond, reading stops and attach refuses', () => {
  const small = new ReusedReads(100);
  const buffer = small.onread.buffer as Buffer;
  buffer.fill(1);
  assert.equal(small.onread.callback(10, buffer), true);
  buffer.fill(2); // the next read overwrites the buffer
  assert.equal(small.onread.callback(5, buffer), true);
  const seen: Buffer[] = [];
  small.attach((bytes) => seen.push(Buffer.from(bytes)));
  assert.deepEqual(seen, [Buffer.alloc(10, 1), Buffer.alloc(5, 2)]);
  buffer.fill(3);
  small.onread.callback(7, buffer);
  assert.deepEqual(seen[2], Buffer.alloc(7, 3), 'after attach, reads go straight to the sink');

  const flooded = new ReusedReads(40 * 1024);
  const big = flooded.onread.buffer as Buffer;
  assert.equal(flooded.onread.callback(big.length, big), true);
  assert.equal(flooded.onread.callback(big.length, big), false, 'past 64 KiB: stop reading');
  assert.throws(
    () => flooded.attach(() => undefined),
    (err: unknown) => err instanceof FerryError && err.code === 'MESSAGE_MALFORMED',
  );
});
