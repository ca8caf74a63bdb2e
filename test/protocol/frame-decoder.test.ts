import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { FerryError, type ErrorCode } from '../../src/errors/index.js';
import {
  FrameDecoder,
  MAX_RECORD_BYTES,
  MIN_RECORD_BYTES,
  encodeFrame,
  writeFrameHeader,
} from '../../src/protocol/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';

function assertCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof FerryError && err.code === code);
}

function recordDecoder(): FrameDecoder {
  return new FrameDecoder({ minLength: MIN_RECORD_BYTES, maxLength: MAX_RECORD_BYTES });
}

// Bodies of assorted sizes, the limits included, so splits land in headers, bodies and boundaries.
function sampleBodies(random: SeededRandom): Buffer[] {
  const lengths = [17, 18, 300, 17, 1000, 65535, 40, 17, 4096];
  return lengths.map((length) => random.bytes(length));
}

function feed(decoder: FrameDecoder, pieces: readonly Buffer[]): Buffer[] {
  const frames: Buffer[] = [];
  for (const piece of pieces) frames.push(...decoder.push(piece));
  return frames;
}

test('`FrameDecoder` returns every frame of a stream fed in one piece', () => {
  const bodies = sampleBodies(new SeededRandom(1));
  const stream = Buffer.concat(bodies.map(encodeFrame));
  const decoder = recordDecoder();
  assert.deepEqual(decoder.push(stream), bodies);
  assert.equal(decoder.bufferedBytes, 0);
});

test('`FrameDecoder` gives identical frames for every single split point of a multi-frame input', () => {
  const random = new SeededRandom(2);
  const bodies = [17, 20, 17, 300, 33].map((length) => random.bytes(length));
  const stream = Buffer.concat(bodies.map(encodeFrame));
  for (let at = 0; at <= stream.length; at++) {
    const decoder = recordDecoder();
    assert.deepEqual(feed(decoder, [stream.subarray(0, at), stream.subarray(at)]), bodies, `split at ${at}`);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

test('`FrameDecoder` gives identical frames for seeded random multi-splits', () => {
  const random = new SeededRandom(3);
  const bodies = sampleBodies(random);
  const stream = Buffer.concat(bodies.map(encodeFrame));
  for (let round = 0; round < 200; round++) {
    const pieces: Buffer[] = [];
    let at = 0;
    while (at < stream.length) {
      // Mostly tiny pieces with the odd large one, so both the header and the body paths get split.
      const length = random.next() < 0.8 ? random.int(0, 5) : random.int(1, 70_000);
      pieces.push(stream.subarray(at, at + length));
      at += length;
    }
    assert.deepEqual(feed(recordDecoder(), pieces), bodies, `round ${round}`);
  }
});

test('`FrameDecoder` gives identical frames when fed byte by byte, holding at most one partial frame', () => {
  const bodies = sampleBodies(new SeededRandom(4));
  const stream = Buffer.concat(bodies.map(encodeFrame));
  const decoder = recordDecoder();
  const frames: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) {
    frames.push(...decoder.push(stream.subarray(i, i + 1)));
    assert.ok(decoder.bufferedBytes <= 2 + MAX_RECORD_BYTES);
  }
  assert.deepEqual(frames, bodies);
  assert.equal(decoder.bufferedBytes, 0);
});

test('`FrameDecoder` counts buffered bytes of a partial frame', () => {
  const decoder = recordDecoder();
  const frame = encodeFrame(Buffer.alloc(20, 9));
  assert.deepEqual(decoder.push(frame.subarray(0, 1)), []);
  assert.equal(decoder.bufferedBytes, 1);
  assert.deepEqual(decoder.push(frame.subarray(1, 7)), []);
  assert.equal(decoder.bufferedBytes, 5);
  assert.deepEqual(decoder.push(frame.subarray(7)), [Buffer.alloc(20, 9)]);
  assert.equal(decoder.bufferedBytes, 0);
});

test('`FrameDecoder` rejects a length above maxLength before the body arrives', () => {
  const decoder = new FrameDecoder({ minLength: 1, maxLength: 1000 });
  assert.deepEqual(decoder.push(Buffer.from([0x03])), []);
  assertCode(() => decoder.push(Buffer.from([0xe9])), 'RECORD_TOO_LARGE');
});

test('`FrameDecoder` rejects a length below minLength with MESSAGE_MALFORMED', () => {
  assertCode(() => recordDecoder().push(Buffer.from([0x00, 0x10])), 'MESSAGE_MALFORMED');
  assertCode(() => recordDecoder().push(Buffer.from([0x00, 0x00])), 'MESSAGE_MALFORMED');
});

test('`FrameDecoder` stays failed after an error, throwing the same error again', () => {
  const decoder = recordDecoder();
  let first: unknown;
  try {
    decoder.push(Buffer.from([0x00, 0x01, 0x00]));
  } catch (err) {
    first = err;
  }
  assert.ok(first instanceof FerryError);
  assert.throws(
    () => decoder.push(encodeFrame(Buffer.alloc(20))),
    (err: unknown) => err === first,
  );
});

test('`FrameDecoder.pushEach` hands out the same frames for seeded random splits, split ones in one reused buffer', () => {
  const bodies = sampleBodies(new SeededRandom(7));
  const stream = Buffer.concat(bodies.map(encodeFrame));
  const random = new SeededRandom(8);
  for (let round = 0; round < 20; round++) {
    const decoder = recordDecoder();
    const seen: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for (let at = 0; at < stream.length;) {
      const piece = Buffer.from(stream.subarray(at, at + 1 + random.int(0, 9000)));
      at += piece.length;
      decoder.pushEach(piece, (body) => {
        // Valid only during the call: copied here, and any body not in `piece` is the one scratch buffer.
        seen.push(Buffer.from(body));
        if (body.buffer !== piece.buffer) buffers.add(body.buffer);
      });
    }
    assert.deepEqual(seen, bodies);
    assert.ok(buffers.size <= 1, `split frames used ${buffers.size} buffers`);
  }
});

test('`FrameDecoder.pushEach` assembles a split frame where `place` says, and in its own buffer when it declines', () => {
  const bodies = sampleBodies(new SeededRandom(9));
  const stream = Buffer.concat(bodies.map(encodeFrame));
  const random = new SeededRandom(10);
  let placed = 0;
  let inPlace = 0;
  for (let round = 0; round < 20; round++) {
    const decoder = recordDecoder();
    const seen: Buffer[] = [];
    let offered: Buffer | undefined;
    const place = (length: number): Buffer | undefined => {
      // Declines every other frame, and offers a wrong length once: the decoder then uses its own buffer.
      placed += 1;
      if (placed % 2 === 0) return undefined;
      offered = Buffer.alloc(placed === 3 ? length + 1 : length);
      return offered;
    };
    for (let at = 0; at < stream.length;) {
      const piece = Buffer.from(stream.subarray(at, at + 1 + random.int(0, 9000)));
      at += piece.length;
      decoder.pushEach(
        piece,
        (body) => {
          seen.push(Buffer.from(body));
          if (offered !== undefined && body === offered) inPlace += 1;
          offered = undefined;
        },
        place,
      );
    }
    assert.deepEqual(seen, bodies);
  }
  assert.ok(inPlace > 0 && inPlace < placed, `${inPlace} of ${placed} split frames placed`);
});

test('`FrameDecoder.pushEach` rethrows what the callback throws and refuses the rest of the stream', () => {
  const decoder = recordDecoder();
  const stream = Buffer.concat([encodeFrame(Buffer.alloc(20)), encodeFrame(Buffer.alloc(30))]);
  const boom = new Error('consumer failed');
  let calls = 0;
  assert.throws(
    () =>
      decoder.pushEach(stream, () => {
        calls += 1;
        throw boom;
      }),
    (err: unknown) => err === boom,
  );
  assert.equal(calls, 1);
  assertCode(() => decoder.pushEach(stream, () => undefined), 'INTERNAL');
});

test('`FrameDecoder` with minLength 0 returns empty frames', () => {
  const decoder = new FrameDecoder({ minLength: 0, maxLength: 10 });
  assert.deepEqual(decoder.push(Buffer.from([0, 0, 0, 1, 7, 0, 0])), [
    Buffer.alloc(0),
    Buffer.from([7]),
    Buffer.alloc(0),
  ]);
});

test('`FrameDecoder` refuses bounds outside 0..65535', () => {
  assertCode(() => new FrameDecoder({ minLength: -1, maxLength: 10 }), 'INTERNAL');
  assertCode(() => new FrameDecoder({ minLength: 0, maxLength: 65536 }), 'INTERNAL');
  assertCode(() => new FrameDecoder({ minLength: 11, maxLength: 10 }), 'INTERNAL');
});

test('`FrameDecoder` fed seeded random bytes only ever throws FerryError', () => {
  const random = new SeededRandom(5);
  for (let round = 0; round < 2000; round++) {
    const decoder = new FrameDecoder({ minLength: random.int(0, 20), maxLength: random.int(20, 65535) });
    try {
      for (let piece = 0; piece < 4; piece++) decoder.push(random.bytes(random.int(0, 300)));
    } catch (err) {
      assert.ok(err instanceof FerryError, `round ${round}: ${String(err)}`);
      assert.ok(err.code === 'RECORD_TOO_LARGE' || err.code === 'MESSAGE_MALFORMED');
    }
    assert.ok(decoder.bufferedBytes <= 65535 + 1);
  }
});

test('`encodeFrame` and `writeFrameHeader` write a big-endian u16 length', () => {
  assert.deepEqual(encodeFrame(Buffer.from('abc')), Buffer.from([0, 3, 0x61, 0x62, 0x63]));
  const target = Buffer.alloc(4);
  assert.equal(writeFrameHeader(0x1234, target, 1), 2);
  assert.deepEqual(target, Buffer.from([0, 0x12, 0x34, 0]));
  assertCode(() => encodeFrame(Buffer.alloc(65536)), 'RECORD_TOO_LARGE');
  assertCode(() => writeFrameHeader(1, Buffer.alloc(2), 1), 'INTERNAL');
});
