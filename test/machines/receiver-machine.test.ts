// The receiver machine (PROTOCOL.md §5.5, §5.6, §5.11.2, §5.13, §6.2, §9.2) driven with message bytes only:
// every message is encoded with the real codec and decoded again, as it would leave the wire, and its
// effects are applied to a model of the storage (bytes at offsets, a durable log) the way PartialTransfer
// applies them. No socket, no file. Each rule is checked in both directions' forms (PUT_* on the server,
// GET_* on the client), which are the same machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  MAX_OPEN_CHUNKS,
  RECEIVER_TRANSITIONS,
  ReceiverMachine,
  type FailEffect,
  type MakeDurableEffect,
  type ReceiverEffect,
  type ReceiverOptions,
} from '../../src/machines/index.js';
import {
  HASH_BYTES,
  chunkHashOf,
  decodeMessage,
  encodeMessage,
  fileDigest,
  haveDigest,
  type Message,
} from '../../src/protocol/index.js';
import { isFerryError } from '../../src/errors/index.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const SIZE = 4 * CHUNK_BYTES + 100; // five chunks, the last one short
const COUNT = 5;
const content = randomBytes(SIZE);
const chunk = (i: number): Buffer => content.subarray(i * CHUNK_BYTES, Math.min(SIZE, (i + 1) * CHUNK_BYTES));
const sha256 = (bytes: Uint8Array): Buffer => chunkHashOf(bytes);
const HASHES = Array.from({ length: COUNT }, (_, i) => sha256(chunk(i)));
const DIGEST = fileDigest(SIZE, CHUNK_BYTES, HASHES);
const ZERO_DIGEST = Buffer.alloc(HASH_BYTES);
const REF = 7;

type Direction = 'upload' | 'download';
const DIRECTIONS: Direction[] = ['upload', 'download'];
const FORMS = {
  upload: { data: 'PUT_DATA', chunk: 'PUT_CHUNK', end: 'PUT_END' },
  download: { data: 'GET_DATA', chunk: 'GET_CHUNK', end: 'GET_END' },
} as const;

/**
 * One receiving end: the machine plus a model of its store. Written bytes land in `disk`; make-durable
 * effects wait in `awaitingDurable` until `confirmDurable()` plays the store saying they are durable.
 */
class Rig {
  readonly machine: ReceiverMachine;
  readonly direction: Direction;
  readonly disk = Buffer.alloc(SIZE);
  /** Every write effect in order. */
  readonly writes: Array<{ offset: number; data: Buffer; afterPending: boolean }> = [];
  readonly awaitingDurable: MakeDurableEffect[] = [];
  /** Chunk indices the store made durable, in order. */
  readonly durableLog: number[] = [];
  readonly progress: number[] = [];
  readonly failures: FailEffect[] = [];
  finishedWith: Buffer | undefined;

  constructor(direction: Direction, options: ReceiverOptions = {}, size = SIZE) {
    this.direction = direction;
    this.machine = new ReceiverMachine(size, CHUNK_BYTES, {
      durableBatchBytes: CHUNK_BYTES,
      checkPartDigests: direction === 'download',
      ...options,
    });
  }

  /** Encodes `message`, decodes it as the receiving side would, and hands it to the machine as `stream`'s. */
  send(stream: unknown, message: Message, options: { part?: boolean } = {}): ReceiverEffect[] {
    const decoded = decodeMessage(encodeMessage(message));
    const effects: ReceiverEffect[] = [];
    switch (decoded.type) {
      case 'PUT_DATA':
      case 'GET_DATA':
        effects.push(this.machine.data(stream, decoded.offset, decoded.data));
        break;
      case 'PUT_CHUNK':
      case 'GET_CHUNK': {
        const effect = this.machine.chunk(stream, decoded.index, decoded.chunkHash);
        if (effect) effects.push(effect);
        break;
      }
      case 'PUT_END':
      case 'GET_END':
        if (options.part) {
          const effect = this.machine.partEnd(stream, decoded.fileDigest);
          if (effect) effects.push(effect);
        } else effects.push(...this.machine.end(decoded.fileDigest));
        break;
      default:
        throw new Error(`not a receiver message: ${decoded.type}`);
    }
    for (const effect of effects) this.apply(effect);
    return effects;
  }

  data(stream: unknown, offset: number, data: Buffer): ReceiverEffect[] {
    return this.send(stream, { type: FORMS[this.direction].data, ref: REF, offset, data });
  }

  chunkHash(stream: unknown, index: number, chunkHash: Buffer): ReceiverEffect[] {
    return this.send(stream, { type: FORMS[this.direction].chunk, ref: REF, index, chunkHash });
  }

  end(stream: unknown, fileDigest: Buffer, options: { part?: boolean } = {}): ReceiverEffect[] {
    return this.send(stream, { type: FORMS[this.direction].end, ref: REF, fileDigest }, options);
  }

  /** Sends chunk `index` as two DATA pieces and its CHUNK. */
  sendChunk(stream: unknown, index: number, bytes = chunk(index), hash = sha256(bytes)): ReceiverEffect[] {
    const half = bytes.length >> 1;
    this.data(stream, index * CHUNK_BYTES, bytes.subarray(0, half));
    this.data(stream, index * CHUNK_BYTES + half, bytes.subarray(half));
    return this.chunkHash(stream, index, hash);
  }

  /** The store reports every make-durable effect so far as done. */
  confirmDurable(): void {
    for (const effect of this.awaitingDurable.splice(0)) {
      this.durableLog.push(...effect.entries.map((e) => e.index));
      this.apply(this.machine.durable(effect.entries));
    }
  }

  apply(effect: ReceiverEffect): void {
    switch (effect.kind) {
      case 'write':
        this.writes.push(effect);
        effect.data.copy(this.disk, effect.offset);
        return;
      case 'make-durable':
        this.awaitingDurable.push(effect);
        return;
      case 'progress':
        this.progress.push(effect.verifiedBytes);
        return;
      case 'finish':
        this.finishedWith = effect.digest;
        return;
      case 'fail':
        this.failures.push(effect);
    }
  }
}

const A = 'stream A';
const B = 'stream B';
const malformed = (pattern: RegExp) => ({ code: 'MESSAGE_MALFORMED', message: pattern });
const unexpected = (pattern: RegExp) => ({ code: 'MESSAGE_UNEXPECTED', message: pattern });

for (const direction of DIRECTIONS) {
  const [DATA, CHUNK, END] = Object.values(FORMS[direction]);

  test(`receiver (${direction}): a whole transfer from bytes lands the exact content and finishes with its digest`, () => {
    const rig = new Rig(direction, { durableBatchBytes: 3 * CHUNK_BYTES });
    for (const index of [3, 0, 4, 1, 2]) rig.sendChunk(A, index); // any order of chunks (§5.5)
    const effects = rig.end(A, DIGEST);
    assert.deepEqual(
      effects.map((e) => e.kind),
      ['make-durable', 'finish'],
      'the rest is made durable before the file is placed',
    );
    assert.ok(rig.finishedWith?.equals(DIGEST));
    assert.ok(rig.disk.equals(content), 'the bytes written are the content');
    assert.equal(rig.machine.state, 'finishing');
    rig.confirmDurable();
    rig.machine.finished();
    assert.equal(rig.machine.state, 'closed');
  });

  test(`receiver (${direction}): ${DATA} is taken only in order from a chunk's first byte; a gap, an overlap, a mid-chunk start, a write across the chunk end or outside the file is MESSAGE_MALFORMED and writes nothing (§5.5.1)`, () => {
    const rig = new Rig(direction);
    assert.throws(
      () => rig.data(A, 100, chunk(0).subarray(100, 200)),
      malformed(/offset 100 does not start a chunk/),
    );
    rig.data(A, 0, chunk(0).subarray(0, 100));
    assert.throws(
      () => rig.data(A, 200, chunk(0).subarray(200, 300)),
      malformed(/expected offset 100, got 200/),
    );
    assert.throws(
      () => rig.data(A, 50, chunk(0).subarray(50, 150)),
      malformed(/expected offset 100, got 50/),
    );
    assert.throws(
      () => rig.data(A, 100, Buffer.alloc(CHUNK_BYTES - 50)),
      malformed(/data at 100 of 65486 bytes crosses the chunk end 65536/),
    );
    assert.throws(() => rig.data(A, SIZE, Buffer.from('x')), malformed(/outside the file/));
    assert.throws(
      () => rig.chunkHash(A, 0, HASHES[0]!),
      malformed(/chunk 0 is not complete/),
      `${CHUNK} before the chunk's data is complete`,
    );
    assert.equal(rig.writes.length, 1, 'only the one accepted piece was written');
    // Refusals changed nothing: the chunk goes on from where it was.
    rig.data(A, 100, chunk(0).subarray(100));
    rig.chunkHash(A, 0, HASHES[0]!);
    assert.equal(rig.machine.stateOf(0), 'verified');
  });

  test(`receiver (${direction}): more than ${MAX_OPEN_CHUNKS} chunks open at once is MESSAGE_MALFORMED (§5.5.1)`, () => {
    const size = (MAX_OPEN_CHUNKS + 1) * CHUNK_BYTES;
    const rig = new Rig(direction, {}, size);
    for (let index = 0; index < MAX_OPEN_CHUNKS; index++)
      rig.data(index, index * CHUNK_BYTES, Buffer.alloc(1));
    assert.throws(
      () => rig.data('one more', MAX_OPEN_CHUNKS * CHUNK_BYTES, Buffer.alloc(1)),
      malformed(/more than 64 chunks open at once/),
    );
  });

  test(`receiver (${direction}): a ${CHUNK} whose hash differs fails that chunk with CHUNK_MISMATCH, keeps the transfer and the chunk unverified, and the chunk sent again is written after the failed attempt's writes (§5.5.2)`, () => {
    const rig = new Rig(direction);
    rig.sendChunk(A, 0);
    const forged = Buffer.alloc(CHUNK_BYTES, 0x58);
    const [failure] = rig.sendChunk(A, 1, forged, HASHES[1]);
    assert.deepEqual(failure, { kind: 'fail', code: 'CHUNK_MISMATCH', detail: 'chunk 1', discard: false });
    assert.equal(rig.machine.state, 'receiving');
    assert.equal(rig.machine.stateOf(1), 'unverified');
    assert.throws(() => rig.end(A, DIGEST), malformed(/4 of 5 chunks missing at end/));
    rig.confirmDurable();
    assert.deepEqual(rig.durableLog, [0], 'a chunk that failed its hash is never made durable');

    const before = rig.writes.length;
    rig.sendChunk(B, 1); // any stream may send it again, from its first byte
    assert.deepEqual(
      rig.writes.slice(before).map((w) => w.afterPending),
      [true, false],
      'the first write of the resent chunk waits for the earlier writes, so none lands over it',
    );
    assert.equal(rig.machine.stateOf(1), 'verified');
    for (const index of [2, 3, 4]) rig.sendChunk(A, index);
    rig.end(A, DIGEST);
    assert.ok(rig.disk.equals(content), 'the forged bytes were replaced by the verified ones');
  });

  test(`receiver (${direction}): ${DATA} for a verified chunk is refused before a byte is written, from any stream, whether verified now or held from a resume (§5.5.3)`, () => {
    const rig = new Rig(direction, { held: [{ index: 2, hash: HASHES[2]! }] });
    rig.sendChunk(A, 0);
    const forged = Buffer.alloc(CHUNK_BYTES, 0x58);
    const writes = rig.writes.length;
    for (const stream of [A, B]) {
      for (const [index, offset] of [
        [0, 0],
        [0, 5],
        [2, 2 * CHUNK_BYTES],
      ] as const) {
        assert.throws(
          () => rig.data(stream, offset, forged.subarray(0, 10)),
          malformed(new RegExp(`chunk ${index} is already verified`)),
        );
      }
    }
    assert.equal(rig.writes.length, writes, 'nothing was written');
    for (const index of [1, 3, 4]) rig.sendChunk(A, index);
    assert.equal(rig.end(A, DIGEST).at(-1)?.kind, 'finish');
    // The chunk held from the resume was never received; its bytes are whatever the partial held.
    assert.ok(rig.disk.subarray(0, 2 * CHUNK_BYTES).equals(content.subarray(0, 2 * CHUNK_BYTES)));
  });

  test(`receiver (${direction}): a chunk belongs to the stream that sent its first byte; another can neither add to it, restart it nor close it (§5.5.3, §5.13.3)`, () => {
    const rig = new Rig(direction);
    rig.data(A, 0, chunk(0).subarray(0, 100));
    assert.throws(
      () => rig.data(B, 100, chunk(0).subarray(100)),
      malformed(/chunk 0 is open on another stream/),
    );
    assert.throws(
      () => rig.data(B, 0, chunk(0).subarray(0, 100)),
      malformed(/chunk 0 is open on another stream/),
    );
    rig.data(A, 100, chunk(0).subarray(100));
    assert.throws(() => rig.chunkHash(B, 0, HASHES[0]!), malformed(/chunk 0 is not complete/));
    rig.chunkHash(A, 0, HASHES[0]!);
    assert.equal(rig.machine.stateOf(0), 'verified');
  });

  test(`receiver (${direction}): ${END} finishes only when every chunk is verified from the bytes held and none is open (§5.6)`, () => {
    const rig = new Rig(direction);
    for (const index of [0, 1, 2, 3]) rig.sendChunk(A, index);
    assert.throws(() => rig.end(A, DIGEST), malformed(/1 of 5 chunks missing at end/));
    rig.data(A, 4 * CHUNK_BYTES, chunk(4).subarray(0, 10));
    assert.throws(() => rig.end(A, DIGEST), malformed(/chunk 4 was not completed/));
    assert.equal(rig.finishedWith ? 'finished' : 'not finished', 'not finished');
    assert.equal(rig.machine.state, 'receiving', 'a refused end changes nothing');
    rig.data(A, 4 * CHUNK_BYTES + 10, chunk(4).subarray(10));
    rig.chunkHash(A, 4, HASHES[4]!);
    rig.end(A, DIGEST);
    assert.ok(rig.finishedWith?.equals(DIGEST));
  });

  test(`receiver (${direction}): ${END} with another digest fails with DIGEST_MISMATCH, discards the partial and makes nothing more durable (§5.6)`, () => {
    const rig = new Rig(direction, { durableBatchBytes: 1 << 20 });
    for (let index = 0; index < COUNT; index++) rig.sendChunk(A, index);
    const wrong = Buffer.from(DIGEST);
    wrong[0]! ^= 1;
    assert.deepEqual(rig.end(A, wrong), [
      { kind: 'fail', code: 'DIGEST_MISMATCH', detail: '', discard: true },
    ]);
    assert.equal(rig.finishedWith, undefined);
    assert.equal(rig.machine.state, 'closed');
    assert.equal(rig.machine.close(), undefined, 'closing afterwards makes nothing durable');
  });

  test(`receiver (${direction}): a zero-byte file has no chunks and finishes at once with the digest of nothing (§5.5.4)`, () => {
    const rig = new Rig(direction, {}, 0);
    assert.equal(rig.machine.count, 0);
    const digest = fileDigest(0, CHUNK_BYTES, []);
    assert.deepEqual(rig.end(A, digest), [{ kind: 'finish', digest }]);
  });

  test(`receiver (${direction}): progress counts only bytes the store confirmed durable, per batch, and never decreases (§5.7, §9.2)`, () => {
    const rig = new Rig(direction, { durableBatchBytes: 2 * CHUNK_BYTES });
    assert.deepEqual(rig.sendChunk(A, 0), [], 'half a batch: nothing to make durable yet');
    const [batch] = rig.sendChunk(A, 1);
    assert.equal(batch?.kind, 'make-durable');
    assert.deepEqual(rig.machine.heldRanges(), [], 'verified but not durable: not held');
    assert.equal(rig.machine.verifiedBytes, 0);
    assert.deepEqual(rig.progress, [], 'no progress before the store confirmed');
    rig.confirmDurable();
    assert.deepEqual(rig.durableLog, [0, 1]);
    assert.deepEqual(rig.progress, [2 * CHUNK_BYTES]);
    rig.sendChunk(A, 2);
    rig.sendChunk(A, 3);
    rig.sendChunk(A, 4);
    rig.end(A, DIGEST);
    rig.confirmDurable();
    assert.deepEqual(rig.durableLog, [0, 1, 2, 3, 4]);
    assert.deepEqual(rig.progress, [2 * CHUNK_BYTES, 4 * CHUNK_BYTES, SIZE]);
  });

  test(`receiver (${direction}): a transfer of one chunk asks for nothing durable and reports no progress: it keeps no log (§9.2)`, () => {
    const rig = new Rig(direction, {}, 100);
    const only = content.subarray(0, 100);
    assert.deepEqual(rig.sendChunk(A, 0, only), []);
    assert.deepEqual(
      rig.end(A, fileDigest(100, CHUNK_BYTES, [sha256(only)])).map((e) => e.kind),
      ['finish'],
    );
    assert.deepEqual(rig.progress, []);
  });

  test(`receiver (${direction}): closing makes the verified chunks not yet durable durable, for a resume, and is idempotent (§9.2)`, () => {
    const rig = new Rig(direction, { durableBatchBytes: 1 << 20 });
    rig.sendChunk(A, 0);
    rig.sendChunk(A, 3);
    rig.data(A, CHUNK_BYTES, chunk(1).subarray(0, 10)); // half-sent: not verified, not kept
    const closing = rig.machine.close();
    assert.deepEqual(
      closing?.entries.map((e) => e.index),
      [0, 3],
    );
    assert.equal(rig.machine.close(), undefined);
    rig.apply(closing);
    rig.confirmDurable();
    assert.deepEqual(rig.machine.heldRanges(), [
      { first: 0, count: 1 },
      { first: 3, count: 1 },
    ]);
  });

  test(`receiver (${direction}): a resumed transfer claims exactly the held chunks, with the held digest over their hashes (§5.4, §5.11.1)`, () => {
    const held = [4, 0, 1].map((index) => ({ index, hash: HASHES[index]! }));
    const rig = new Rig(direction, { held, durableBatchBytes: 1 << 20 });
    assert.deepEqual(rig.machine.heldRanges(), [
      { first: 0, count: 2 },
      { first: 4, count: 1 },
    ]);
    assert.ok(rig.machine.heldDigest().equals(haveDigest([HASHES[0]!, HASHES[1]!, HASHES[4]!])));
    assert.equal(rig.machine.verifiedBytes, 2 * CHUNK_BYTES + 100);
    rig.sendChunk(A, 2);
    assert.ok(
      rig.machine.heldDigest().equals(haveDigest([HASHES[0]!, HASHES[1]!, HASHES[4]!])),
      'a chunk verified but not yet durable is not claimed',
    );
    assert.ok(new Rig(direction).machine.heldDigest().equals(ZERO_DIGEST), 'nothing held: 32 zero bytes');
  });

  test(`receiver (${direction}): a stream that ends leaves the chunk it half-sent unverified, for another stream to send whole (§5.13.5)`, () => {
    const rig = new Rig(direction);
    rig.sendChunk(A, 0);
    rig.data(B, CHUNK_BYTES, chunk(1).subarray(0, 100));
    rig.machine.streamEnded(B);
    assert.equal(rig.machine.stateOf(1), 'unverified');
    assert.throws(
      () => rig.data(A, CHUNK_BYTES + 100, chunk(1).subarray(100)),
      malformed(/does not start a chunk/),
    );
    rig.sendChunk(A, 1);
    assert.equal(rig.machine.stateOf(1), 'verified');
  });

  test(`receiver (${direction}): once the transfer closed, a joined stream's ${DATA}, ${CHUNK} and ${END} fail for its ref with PATH_NOT_FOUND (§5.13.5)`, () => {
    const rig = new Rig(direction);
    rig.data(B, 0, chunk(0).subarray(0, 10));
    rig.machine.close(); // the primary's session ended
    const closed = { code: 'PATH_NOT_FOUND', message: /the transfer this stream joined is closed/ };
    assert.throws(() => rig.data(B, 10, chunk(0).subarray(10, 100)), closed);
    assert.throws(() => rig.chunkHash(B, 0, HASHES[0]!), closed);
    assert.throws(() => rig.end(B, ZERO_DIGEST, { part: true }), closed);
    rig.machine.streamEnded(B); // its session then closes: nothing to do
    assert.equal(rig.machine.state, 'closed');
  });

  test(`receiver (${direction}): an event its table does not allow in the state is MESSAGE_UNEXPECTED (§6.2)`, () => {
    const rig = new Rig(direction);
    assert.throws(() => rig.machine.finished(), unexpected(/FINISHED in state receiving/));
    for (let index = 0; index < COUNT; index++) rig.sendChunk(A, index);
    rig.end(A, DIGEST);
    // A joined stream's data after the file's end broke §5.13.4 (the file ends after every PART).
    assert.throws(() => rig.data(B, 0, chunk(0).subarray(0, 100)), unexpected(/DATA in state finishing/));
    assert.throws(() => rig.end(B, ZERO_DIGEST, { part: true }), unexpected(/PART_END in state finishing/));
    assert.throws(() => rig.end(A, DIGEST), unexpected(/END in state finishing/));
    rig.machine.finished();
    assert.throws(() => rig.end(A, DIGEST), unexpected(/END in state closed/));
  });

  test(`receiver (${direction}): the write effect carries the very buffer the record was decoded into and hashed, uncopied`, () => {
    const machine = new ReceiverMachine(SIZE, CHUNK_BYTES);
    const record = encodeMessage({
      type: DATA,
      ref: REF,
      offset: 0,
      data: chunk(0).subarray(0, 1000),
    } as Message);
    const decoded = decodeMessage(record) as { data: Buffer };
    const effect = machine.data(A, 0, decoded.data);
    assert.equal(effect.data, decoded.data, 'the same Buffer object');
    assert.equal(effect.data.buffer, record.buffer, 'a view of the record itself');
  });
}

test('receiver (upload): a joined stream ends with PUT_END of 32 zero bytes; PART unless it left a chunk half-sent, which goes back to unverified, fails the end, and the file goes on (§5.13.4)', () => {
  const rig = new Rig('upload');
  rig.sendChunk(B, 1);
  assert.deepEqual(rig.end(B, ZERO_DIGEST, { part: true }), [], 'PART: nothing to check or do');
  rig.sendChunk('stream C', 3);
  rig.data('stream C', 4 * CHUNK_BYTES, chunk(4).subarray(0, 10));
  assert.throws(
    () => rig.end('stream C', ZERO_DIGEST, { part: true }),
    (err) => isFerryError(err, 'MESSAGE_MALFORMED') && /chunk 4 not completed/.test(err.message),
    'no PART for a chunk the stream did not finish',
  );
  assert.equal(rig.machine.stateOf(4), 'unverified');
  assert.equal(rig.machine.stateOf(3), 'verified', 'its completed chunks stay');
  for (const index of [0, 2, 4]) rig.sendChunk(A, index);
  assert.equal(rig.end(A, DIGEST).at(-1)?.kind, 'finish');
});

test("receiver (download): a stripe's GET_END must carry the digest over the chunk hashes it sent, else DIGEST_MISMATCH that keeps the partial (§5.13.6)", () => {
  const rig = new Rig('download');
  rig.sendChunk(B, 1);
  rig.sendChunk(B, 3);
  assert.deepEqual(rig.end(B, haveDigest([HASHES[1]!, HASHES[3]!]), { part: true }), []);

  rig.sendChunk('stripe C', 2);
  const [failure] = rig.end('stripe C', haveDigest([HASHES[1]!]), { part: true });
  assert.deepEqual(failure, {
    kind: 'fail',
    code: 'DIGEST_MISMATCH',
    detail: 'a stream ended with another digest than its chunks',
    discard: false,
  });
  assert.equal(rig.machine.stateOf(2), 'verified', 'the verified chunks stay for a resume');
  assert.deepEqual(
    rig.end('stripe D', haveDigest([HASHES[0]!]), { part: true })[0]?.kind,
    'fail',
    'a stripe that sent no chunk cannot claim one',
  );
  assert.deepEqual(rig.end('stripe E', ZERO_DIGEST, { part: true }), [], 'no chunk: 32 zero bytes');
});

test('receiver (download): a server cannot make the client take a rewritten chunk: GET_DATA for a chunk verified on this stream is refused before a byte is written', () => {
  // The bytes of test/integration/malicious-server.test.ts's hostile server, without the server.
  const rig = new Rig('download', {}, 2 * CHUNK_BYTES);
  const first = Buffer.alloc(CHUNK_BYTES, 0x41);
  rig.sendChunk(A, 0, first);
  assert.throws(
    () => rig.sendChunk(A, 0, Buffer.alloc(CHUNK_BYTES, 0x58)),
    malformed(/chunk 0 is already verified/),
  );
  assert.ok(rig.disk.subarray(0, CHUNK_BYTES).equals(first));
});

test('RECEIVER_TRANSITIONS: every row is reachable by driving the machine with its inputs', () => {
  const reached = new Set<string>();
  const trace = (machine: ReceiverMachine, run: () => unknown, event: string): void => {
    const before = machine.state;
    try {
      run();
    } catch {
      // A refusal in a row that refuses (closed: DATA) still took the row.
    }
    reached.add(`${before} ${event}`);
  };
  const live = new Rig('download');
  const m = live.machine;
  trace(
    m,
    () => {
      live.data(A, 0, chunk(0).subarray(0, 100));
      live.data(A, 100, chunk(0).subarray(100));
    },
    'DATA',
  );
  trace(m, () => live.chunkHash(A, 0, HASHES[0]!), 'CHUNK');
  trace(m, () => live.confirmDurable(), 'DURABLE');
  trace(m, () => live.end(B, ZERO_DIGEST, { part: true }), 'PART_END');
  trace(m, () => m.streamEnded(B), 'STREAM_ENDED');
  for (let index = 1; index < COUNT; index++) live.sendChunk(A, index);
  const wrong = new Rig('upload');
  for (let index = 0; index < COUNT; index++) wrong.sendChunk(A, index);
  trace(wrong.machine, () => wrong.end(A, ZERO_DIGEST), 'END_MISMATCH');
  trace(m, () => live.end(A, DIGEST), 'END');
  trace(m, () => live.confirmDurable(), 'DURABLE');
  trace(m, () => m.streamEnded(B), 'STREAM_ENDED');
  trace(m, () => m.finished(), 'FINISHED');
  for (const event of ['DATA', 'CHUNK', 'PART_END', 'DURABLE', 'STREAM_ENDED', 'CLOSE']) {
    const run: Record<string, () => unknown> = {
      DATA: () => m.data(A, 0, chunk(0)),
      CHUNK: () => m.chunk(A, 0, HASHES[0]!),
      PART_END: () => m.partEnd(A, ZERO_DIGEST),
      DURABLE: () => m.durable([]),
      STREAM_ENDED: () => m.streamEnded(A),
      CLOSE: () => m.close(),
    };
    trace(m, run[event]!, event);
  }
  const cancelled = new ReceiverMachine(SIZE, CHUNK_BYTES);
  trace(cancelled, () => cancelled.close(), 'CLOSE');
  const placing = new Rig('upload', {}, 0);
  placing.end(A, fileDigest(0, CHUNK_BYTES, []));
  trace(placing.machine, () => placing.machine.close(), 'CLOSE');
  assert.deepEqual(
    [...reached].sort(),
    RECEIVER_TRANSITIONS.map((row) => `${row.state} ${row.event}`).sort(),
  );
});
