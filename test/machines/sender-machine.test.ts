// The sender's rules (PROTOCOL.md §5.4-§5.8, §5.11, §5.13) driven with message bytes only: every server answer
// and client request below is encoded with the real codec and decoded again before a machine sees it, and the
// machines' messages are encoded too, so what is checked is what would cross the wire. The "file" is a buffer
// hashed here by hand, standing in for the driver's reads; no socket, no file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isFerryError } from '../../src/errors/index.js';
import { FerryError } from '../../src/errors/index.js';
import {
  ChunkSet,
  HASH_BYTES,
  MAX_TRANSFER_CHUNKS,
  MIN_CHUNK_BYTES,
  chunkCount,
  chunkHashOf,
  decodeMessage,
  encodeMessage,
  fileDigest,
  haveDigest,
  type ChunkHashes,
  type ChunkRange,
  type GetRequestMessage,
  type GetStripe,
  type Message,
} from '../../src/protocol/index.js';
import {
  DOWNLOAD_SENDER_TRANSITIONS,
  DownloadSenderMachine,
  UPLOAD_SENDER_TRANSITIONS,
  UploadSenderMachine,
  judgeHeldClaim,
  type DownloadEffect,
  type UploadEffect,
} from '../../src/machines/index.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const CHUNK = MIN_CHUNK_BYTES;
const ZERO = Buffer.alloc(HASH_BYTES);

/** A message as the peer's bytes deliver it. */
function wire<M extends Message>(message: M): M {
  return decodeMessage(encodeMessage(message)) as M;
}

/** A file of `size` bytes whose every byte depends on its offset and `seed`. */
function fileOf(size: number, seed = 1): Buffer {
  const file = Buffer.alloc(size);
  for (let i = 0; i < size; i++) file[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return file;
}

function hashOfChunk(file: Buffer, index: number): Buffer {
  return chunkHashOf(file.subarray(index * CHUNK, Math.min(file.length, (index + 1) * CHUNK)));
}

/** The file digest (§7.2), computed here without ChunkHashes. */
function digestOf(file: Buffer): Buffer {
  const count = chunkCount(file.length, CHUNK);
  return fileDigest(
    file.length,
    CHUNK,
    Array.from({ length: count }, (_, i) => hashOfChunk(file, i)),
  );
}

/** The held digest (§5.4) over `indices` of `file`, computed here without ChunkHashes. */
function heldDigestOf(file: Buffer, indices: readonly number[]): Buffer {
  return haveDigest(indices.map((i) => hashOfChunk(file, i)));
}

/** What the driver does for a `hash` or `stream` effect: our own hashes of those chunks. */
function hashInto(hashes: ChunkHashes, file: Buffer, chunks: Iterable<number>): number[] {
  const done: number[] = [];
  for (const index of chunks) {
    hashes.set(index, hashOfChunk(file, index));
    done.push(index);
  }
  return done;
}

function drain(chunks: Iterator<number>): number[] {
  const out: number[] = [];
  for (let next = chunks.next(); !next.done; next = chunks.next()) out.push(next.value);
  return out;
}

function bytesOf(file: Buffer, chunks: readonly number[]): number {
  return chunks.reduce((sum, i) => sum + Math.min(CHUNK, file.length - i * CHUNK), 0);
}

function only<E extends { kind: string }, K extends E['kind']>(
  effects: readonly E[],
  kind: K,
): Extract<E, { kind: K }> {
  const found = effects.filter((effect) => effect.kind === kind);
  assert.equal(found.length, 1, `one ${kind} effect in ${effects.map((e) => e.kind).join(', ')}`);
  return found[0] as Extract<E, { kind: K }>;
}

function kinds(effects: readonly { kind: string }[]): string[] {
  return effects.map((effect) => effect.kind);
}

/** The message of a `send` effect, as the server would decode it. */
function sentMessage(effects: readonly (UploadEffect | DownloadEffect)[]): Message {
  const send = effects.find((effect) => effect.kind === 'send');
  assert.ok(send && send.kind === 'send', `a send effect in ${kinds(effects).join(', ')}`);
  return wire(send.message);
}

function accept(fields: {
  ranges?: ChunkRange[];
  haveDigest?: Buffer;
  existing?: boolean;
  restarted?: boolean;
}): Message {
  return wire({
    type: 'PUT_ACCEPT',
    ref: 1,
    restarted: fields.restarted ?? false,
    existing: fields.existing ?? false,
    haveDigest: fields.haveDigest ?? ZERO,
    joinToken: Buffer.alloc(16),
    ranges: fields.ranges ?? [],
  });
}

function putDone(fileDigest: Buffer, flags: { identical?: boolean; part?: boolean } = {}): Message {
  return wire({
    type: 'PUT_DONE',
    ref: 1,
    identical: flags.identical ?? false,
    ...(flags.part ? { part: true } : {}),
    fileDigest,
  });
}

function rejectsWith(code: string, run: () => unknown, detail?: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(isFerryError(err), `a FerryError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (detail) assert.match(err.message, detail);
    return true;
  });
}

/** A pipelined upload of `file` (at most one chunk) started and offered on ref 1: its first effects. */
function pipelinedUpload(file: Buffer): { machine: UploadSenderMachine; effects: UploadEffect[] } {
  const machine = new UploadSenderMachine(file.length, CHUNK);
  const effects = machine.start();
  assert.deepEqual(effects[0], { kind: 'offer', fresh: false });
  machine.offered(1);
  return { machine, effects };
}

/** An upload of `file` started and offered on ref 1, waiting for PUT_ACCEPT. */
function offeredUpload(file: Buffer): UploadSenderMachine {
  const machine = new UploadSenderMachine(file.length, CHUNK);
  assert.deepEqual(machine.start(), [{ kind: 'offer', fresh: false }, { kind: 'receive' }]);
  machine.offered(1);
  return machine;
}

/** Streams what the `stream` effect asks for, checks the source, sends PUT_END: returns the PUT_END's effects. */
function sendAndEnd(
  machine: UploadSenderMachine,
  file: Buffer,
  effects: readonly UploadEffect[],
): UploadEffect[] {
  const stream = only(effects, 'stream');
  const sent = hashInto(machine.hashes, file, drain(stream.chunks));
  assert.deepEqual(kinds(machine.sent(bytesOf(file, sent))), ['check-unchanged']);
  return machine.unchanged();
}

test('judgeHeldClaim, the one rule both senders apply to a claim: differs, holds (some chunks) or whole (every chunk)', () => {
  const file = fileOf(3 * CHUNK);
  const table = new UploadSenderMachine(file.length, CHUNK).hashes;
  hashInto(table, file, [0, 1, 2]);
  const some = ChunkSet.fromRanges(3, [{ first: 1, count: 2 }]);
  const all = ChunkSet.fromRanges(3, [{ first: 0, count: 3 }]);
  assert.equal(judgeHeldClaim(table, some, heldDigestOf(file, [1, 2])), 'holds');
  assert.equal(judgeHeldClaim(table, all, heldDigestOf(file, [0, 1, 2])), 'whole');
  assert.equal(judgeHeldClaim(table, all, heldDigestOf(file, [0, 1])), 'differs');
  assert.equal(judgeHeldClaim(table, some, heldDigestOf(fileOf(3 * CHUNK, 2), [1, 2])), 'differs');
  const empty = new UploadSenderMachine(0, CHUNK).hashes;
  assert.equal(
    judgeHeldClaim(empty, new ChunkSet(0), ZERO),
    'whole',
    'an empty file is held whole by no chunk',
  );
});

// --- Upload on the client ---------------------------------------------------------------------------------

test('an upload of more than one chunk is offered and waits for PUT_ACCEPT; one of at most one chunk is pipelined (§5.8)', () => {
  offeredUpload(fileOf(CHUNK + 1));
  const small = new UploadSenderMachine(CHUNK, CHUNK);
  const effects = small.start();
  assert.deepEqual(kinds(effects), ['offer', 'stream']);
  assert.deepEqual(drain(only(effects, 'stream').chunks), [0]);
  assert.equal(small.state, 'pipelining');
});

test('a delta offer of one chunk is not pipelined: it waits for PUT_ACCEPT and its signature (§5.15.1)', () => {
  const small = new UploadSenderMachine(CHUNK, CHUNK, { answerFirst: true });
  assert.deepEqual(small.start(), [{ kind: 'offer', fresh: false }, { kind: 'receive' }]);
  assert.equal(small.state, 'offered');
});

test('a PUT_ACCEPT holding nothing sends every chunk in order, then PUT_END with the file digest once the source is unchanged', () => {
  const file = fileOf(4 * CHUNK + 100);
  const machine = offeredUpload(file);
  const effects = machine.received(accept({}));
  assert.deepEqual(only(effects, 'accepted'), { kind: 'accepted', heldBytes: 0, restarted: false });
  assert.equal(only(effects, 'stream').missing, 5);
  assert.equal(machine.ended, false, 'the sending owns the ref until PUT_END');
  const end = sendAndEnd(machine, file, effects);
  assert.deepEqual(sentMessage(end), { type: 'PUT_END', ref: 1, fileDigest: digestOf(file) });
  assert.equal(machine.ended, true, 'from PUT_END on, the wait for PUT_DONE owns the ref');
  const done = only(machine.received(putDone(digestOf(file))), 'done');
  assert.deepEqual(done.outcome, {
    size: file.length,
    digest: digestOf(file),
    sentBytes: file.length,
    resumedBytes: 0,
    restarted: false,
    identical: false,
  });
});

test('a claim that matches our own hashes of the held chunks resumes: only the other chunks are sent (§5.4)', () => {
  const file = fileOf(4 * CHUNK + 100);
  const machine = offeredUpload(file);
  const claim = accept({ ranges: [{ first: 1, count: 2 }], haveDigest: heldDigestOf(file, [1, 2]) });
  const check = machine.received(claim);
  const hash = only(check, 'hash');
  assert.deepEqual([...hash.chunks], [1, 2], 'only the claimed chunks are read');
  hashInto(machine.hashes, file, hash.chunks);
  const effects = machine.hashed();
  assert.deepEqual(only(effects, 'accepted'), { kind: 'accepted', heldBytes: 2 * CHUNK, restarted: false });
  const stream = only(effects, 'stream');
  assert.equal(stream.missing, 3);
  const sent = hashInto(machine.hashes, file, drain(stream.chunks));
  assert.deepEqual(sent, [0, 3, 4]);
  machine.sent(bytesOf(file, sent));
  assert.deepEqual(sentMessage(machine.unchanged()), { type: 'PUT_END', ref: 1, fileDigest: digestOf(file) });
  const done = only(machine.received(putDone(digestOf(file))), 'done');
  assert.equal(done.outcome.resumedBytes, 2 * CHUNK);
  assert.equal(done.outcome.sentBytes, 2 * CHUNK + 100);
});

test('a lying server that claims chunks our source does not have gets a CANCEL, then a FRESH offer on a new ref, and every chunk (§5.4)', () => {
  const file = fileOf(4 * CHUNK + 100);
  const other = fileOf(4 * CHUNK + 100, 2);
  const machine = offeredUpload(file);
  const hash = only(
    machine.received(
      accept({ ranges: [{ first: 0, count: 3 }], haveDigest: heldDigestOf(other, [0, 1, 2]) }),
    ),
    'hash',
  );
  hashInto(machine.hashes, file, hash.chunks);
  const restart = machine.hashed();
  assert.deepEqual(kinds(restart), ['send', 'offer', 'receive']);
  assert.deepEqual(
    sentMessage(restart),
    { type: 'CANCEL', ref: 1 },
    'the first offer ends before the next (§6.2)',
  );
  assert.deepEqual(restart[1], { kind: 'offer', fresh: true });
  machine.offered(2);
  const effects = machine.received(accept({}));
  assert.deepEqual(only(effects, 'accepted'), { kind: 'accepted', heldBytes: 0, restarted: true });
  const end = sendAndEnd(machine, file, effects);
  assert.deepEqual(sentMessage(end), { type: 'PUT_END', ref: 2, fileDigest: digestOf(file) });
  const done = only(machine.received(putDone(digestOf(file))), 'done');
  assert.equal(done.outcome.restarted, true);
  assert.equal(done.outcome.sentBytes, file.length);
});

test('a server that claims held chunks again after a FRESH offer is refused (MESSAGE_UNEXPECTED), so a liar cannot keep the client re-offering', () => {
  const file = fileOf(3 * CHUNK);
  const machine = offeredUpload(file);
  const liar = { ranges: [{ first: 0, count: 1 }], haveDigest: Buffer.alloc(HASH_BYTES, 9) };
  hashInto(machine.hashes, file, only(machine.received(accept(liar)), 'hash').chunks);
  machine.hashed();
  machine.offered(2);
  rejectsWith(
    'MESSAGE_UNEXPECTED',
    () => machine.received(accept(liar)),
    /PUT_ACCEPT, chunks held in state reoffered/,
  );
});

test('after a FRESH offer the destination may have appeared: EXISTING is still checked, and identical content ends on the new ref', () => {
  const file = fileOf(3 * CHUNK);
  const machine = offeredUpload(file);
  const stale = { ranges: [{ first: 0, count: 1 }], haveDigest: Buffer.alloc(HASH_BYTES, 9) };
  hashInto(machine.hashes, file, only(machine.received(accept(stale)), 'hash').chunks);
  machine.hashed();
  machine.offered(2);
  const all = { existing: true, ranges: [{ first: 0, count: 3 }], haveDigest: heldDigestOf(file, [0, 1, 2]) };
  hashInto(machine.hashes, file, only(machine.received(accept(all)), 'hash').chunks);
  assert.deepEqual(machine.hashed(), [{ kind: 'check-unchanged' }]);
  assert.deepEqual(sentMessage(machine.unchanged()), { type: 'PUT_END', ref: 2, fileDigest: digestOf(file) });
});

test('the sender’s own events follow the table too: sent before PUT_ACCEPT, or hashed with nothing to check, is MESSAGE_UNEXPECTED', () => {
  const file = fileOf(3 * CHUNK);
  rejectsWith('MESSAGE_UNEXPECTED', () => offeredUpload(file).sent(0), /sent in state offered/);
  rejectsWith('MESSAGE_UNEXPECTED', () => offeredUpload(file).hashed(), /hashed in state offered/);
  const download = downloadOf(file, {});
  download.start();
  rejectsWith('MESSAGE_UNEXPECTED', () => download.unchanged(), /unchanged in state sending/);
});

test('claimed ranges past the last chunk of the file are refused as MESSAGE_MALFORMED before anything is read', () => {
  const machine = offeredUpload(fileOf(2 * CHUNK));
  rejectsWith('MESSAGE_MALFORMED', () =>
    machine.received(accept({ ranges: [{ first: 1, count: 2 }], haveDigest: Buffer.alloc(HASH_BYTES, 1) })),
  );
});

test('EXISTING with every chunk as ours is identical: PUT_END at once, no data; PUT_DONE IDENTICAL ends it (§5.4)', () => {
  const file = fileOf(3 * CHUNK + 5);
  const machine = offeredUpload(file);
  const effects = machine.received(
    accept({
      existing: true,
      ranges: [{ first: 0, count: 4 }],
      haveDigest: heldDigestOf(file, [0, 1, 2, 3]),
    }),
  );
  hashInto(machine.hashes, file, only(effects, 'hash').chunks);
  assert.deepEqual(
    machine.hashed(),
    [{ kind: 'check-unchanged' }],
    'no accepted, no stream: nothing is sent',
  );
  assert.deepEqual(sentMessage(machine.unchanged()), { type: 'PUT_END', ref: 1, fileDigest: digestOf(file) });
  const done = only(machine.received(putDone(digestOf(file), { identical: true })), 'done');
  assert.deepEqual(done.outcome, {
    size: file.length,
    digest: digestOf(file),
    sentBytes: 0,
    resumedBytes: 0,
    restarted: false,
    identical: true,
  });
});

test('EXISTING with other content, or with a matching claim over fewer than all chunks, is CANCEL and FILE_EXISTS', () => {
  const file = fileOf(3 * CHUNK + 5);
  for (const claim of [
    { ranges: [{ first: 0, count: 4 }], haveDigest: heldDigestOf(fileOf(3 * CHUNK + 5, 3), [0, 1, 2, 3]) },
    { ranges: [{ first: 0, count: 2 }], haveDigest: heldDigestOf(file, [0, 1]) },
  ]) {
    const machine = offeredUpload(file);
    hashInto(
      machine.hashes,
      file,
      only(machine.received(accept({ existing: true, ...claim })), 'hash').chunks,
    );
    const effects = machine.hashed();
    assert.deepEqual(kinds(effects), ['send', 'fail']);
    assert.deepEqual(sentMessage(effects), { type: 'CANCEL', ref: 1 });
    const fail = only(effects, 'fail');
    assert.equal(fail.error.code, 'FILE_EXISTS');
    assert.equal(fail.report, false);
  }
});

test('a pipelined file reads the late PUT_ACCEPT after its PUT_END and ignores EXISTING: the digest settles it (§5.8)', () => {
  const file = fileOf(700);
  const { machine, effects } = pipelinedUpload(file);
  const end = sendAndEnd(machine, file, effects);
  assert.deepEqual(sentMessage(end), { type: 'PUT_END', ref: 1, fileDigest: digestOf(file) });
  assert.equal(machine.state, 'ended-unanswered');
  rejectsWith('MESSAGE_UNEXPECTED', () => new UploadSenderMachine(1, CHUNK).received(putDone(ZERO)));
  const answer = machine.received(
    accept({
      existing: true,
      ranges: [{ first: 0, count: 1 }],
      haveDigest: heldDigestOf(fileOf(700, 5), [0]),
    }),
  );
  assert.deepEqual(answer, [{ kind: 'accepted', heldBytes: 0, restarted: false }, { kind: 'receive' }]);
  const done = only(machine.received(putDone(digestOf(file), { identical: true })), 'done');
  assert.equal(done.outcome.identical, true);
});

test('a pipelined file whose PUT_DONE arrives before its PUT_ACCEPT is refused (MESSAGE_UNEXPECTED)', () => {
  const file = fileOf(10);
  const { machine, effects } = pipelinedUpload(file);
  sendAndEnd(machine, file, effects);
  rejectsWith(
    'MESSAGE_UNEXPECTED',
    () => machine.received(putDone(digestOf(file))),
    /PUT_DONE, our digest in state ended-unanswered/,
  );
});

test('an empty file is pipelined with no chunk at all, and its PUT_END carries the digest of no chunks (§5.5.4)', () => {
  const { machine, effects } = pipelinedUpload(Buffer.alloc(0));
  assert.deepEqual(drain(only(effects, 'stream').chunks), []);
  machine.sent(0);
  assert.deepEqual(sentMessage(machine.unchanged()), {
    type: 'PUT_END',
    ref: 1,
    fileDigest: fileDigest(0, CHUNK, []),
  });
});

test('a PUT_DONE naming another digest fails the upload with DIGEST_MISMATCH (§5.6)', () => {
  const file = fileOf(2 * CHUNK);
  const machine = offeredUpload(file);
  sendAndEnd(machine, file, machine.received(accept({})));
  const effects = machine.received(putDone(digestOf(fileOf(2 * CHUNK, 4))));
  assert.equal(only(effects, 'fail').error.code, 'DIGEST_MISMATCH');
  assert.equal(machine.ended, true, 'a failure after PUT_END leaves the ref with the wait for the answer');
});

test('a source that changed is reported with ERROR SOURCE_CHANGED in place of PUT_END, in every state that reads it (§5.6.1)', () => {
  const changed = new FerryError('SOURCE_CHANGED', 'size changed');
  const file = fileOf(2 * CHUNK);
  const states: Array<(m: UploadSenderMachine) => void> = [
    (m) => void m.received(accept({ ranges: [{ first: 0, count: 1 }], haveDigest: heldDigestOf(file, [0]) })), // checking
    (m) => void m.received(accept({})), // sending
    (m) => {
      m.received(accept({}));
      m.sent(file.length);
    }, // closing
  ];
  for (const reach of states) {
    const machine = offeredUpload(file);
    reach(machine);
    const state = machine.state;
    assert.deepEqual(machine.sourceChanged(changed), [{ kind: 'fail', error: changed, report: true }], state);
    assert.equal(machine.ended, false, `${state}: no PUT_END went out`);
  }
  const pipelined = new UploadSenderMachine(10, CHUNK);
  pipelined.start();
  assert.deepEqual(kinds(pipelined.sourceChanged(changed)), ['fail']);
  // Once PUT_END is out there is nothing left to read, and so nothing to report.
  const ended = offeredUpload(file);
  sendAndEnd(ended, file, ended.received(accept({})));
  rejectsWith('MESSAGE_UNEXPECTED', () => ended.sourceChanged(changed), /source changed in state ended/);
});

test('joined streams take chunks from the primary’s one cursor: every missing chunk is sent once, by whichever stream asks first (§5.13.3)', () => {
  const file = fileOf(6 * CHUNK);
  const primary = offeredUpload(file);
  hashInto(
    primary.hashes,
    file,
    only(
      primary.received(accept({ ranges: [{ first: 2, count: 1 }], haveDigest: heldDigestOf(file, [2]) })),
      'hash',
    ).chunks,
  );
  const cursor = only(primary.hashed(), 'stream').chunks;
  const joined = new UploadSenderMachine(file.length, CHUNK, {
    join: { chunks: cursor, hashes: primary.hashes },
  });
  assert.deepEqual(joined.start(), [{ kind: 'offer', fresh: false }, { kind: 'receive' }]);
  joined.offered(7);
  // §5.13.2: a joined PUT_ACCEPT lists no chunks (the primary's cursor already skips the held ones).
  const joinedCursor = only(joined.received(accept({})), 'stream').chunks;
  assert.equal(joinedCursor, cursor, 'the very same cursor');
  const byPrimary: number[] = [];
  const byJoined: number[] = [];
  for (let turn = 0; ; turn++) {
    const next = (turn % 2 === 0 ? cursor : joinedCursor).next();
    if (next.done) break;
    (turn % 2 === 0 ? byPrimary : byJoined).push(next.value);
  }
  assert.deepEqual([...byPrimary, ...byJoined].sort(), [0, 1, 3, 4, 5]);
  hashInto(primary.hashes, file, [...byPrimary, ...byJoined]);
  // The joined stream closes its part with 32 zero bytes, and only a PART answer ends it (§5.13.4).
  const end = joined.sent(bytesOf(file, byJoined));
  assert.deepEqual(sentMessage(end), { type: 'PUT_END', ref: 7, fileDigest: ZERO });
  rejectsWith('MESSAGE_UNEXPECTED', () => joined.received(putDone(ZERO)), /in state joined-ended/);
  const part = only(joined.received(putDone(ZERO, { part: true })), 'done');
  assert.equal(part.outcome.sentBytes, bytesOf(file, byJoined));
  // The primary's digest covers the chunks every stream sent, in the one table they share.
  primary.sent(file.length - CHUNK);
  assert.deepEqual(sentMessage(primary.unchanged()), { type: 'PUT_END', ref: 1, fileDigest: digestOf(file) });
});

const UPLOAD_SEED = 4242;
test(`uploads, 200 seeded cases (seed ${UPLOAD_SEED}): a true claim is resumed, a false one restarts; every chunk not held goes once, and PUT_END names the file`, () => {
  const random = new SeededRandom(UPLOAD_SEED);
  for (let round = 0; round < 200; round++) {
    const size = random.int(CHUNK + 1, 24 * CHUNK);
    const file = random.bytes(size);
    const count = chunkCount(size, CHUNK);
    const heldIndices = Array.from({ length: count }, (_, i) => i).filter(() => random.next() < 0.4);
    const honest = random.next() < 0.5;
    const machine = offeredUpload(file);
    const claimed = new ChunkSet(count);
    for (const index of heldIndices) claimed.add(index);
    let effects = machine.received(
      accept({
        ranges: claimed.ranges(),
        haveDigest: honest ? heldDigestOf(file, heldIndices) : heldDigestOf(random.bytes(size), heldIndices),
      }),
    );
    let held: number[] = [];
    if (heldIndices.length > 0) {
      hashInto(machine.hashes, file, only(effects, 'hash').chunks);
      effects = machine.hashed();
      if (honest) held = heldIndices;
      else {
        assert.deepEqual(
          kinds(effects),
          ['send', 'offer', 'receive'],
          `round ${round}: a false claim restarts`,
        );
        machine.offered(2);
        effects = machine.received(accept({}));
      }
    }
    assert.equal(only(effects, 'accepted').heldBytes, bytesOf(file, held), `round ${round}`);
    const sent = drain(only(effects, 'stream').chunks);
    hashInto(machine.hashes, file, sent);
    assert.deepEqual(
      [...held, ...sent].sort((a, b) => a - b),
      Array.from({ length: count }, (_, i) => i),
      `round ${round}: every chunk held or sent, once`,
    );
    machine.sent(bytesOf(file, sent));
    const end = sentMessage(machine.unchanged());
    assert.deepEqual(
      (end as { fileDigest: Buffer }).fileDigest,
      digestOf(file),
      `round ${round}: the file digest`,
    );
  }
});

test('a joined stream answered with a held set is refused (MESSAGE_UNEXPECTED): a joined PUT_ACCEPT lists no chunks (§5.13.2)', () => {
  const file = fileOf(3 * CHUNK);
  const primary = offeredUpload(file);
  const joined = new UploadSenderMachine(file.length, CHUNK, {
    join: { chunks: [0][Symbol.iterator](), hashes: primary.hashes },
  });
  joined.start();
  rejectsWith(
    'MESSAGE_UNEXPECTED',
    () => joined.received(accept({ ranges: [{ first: 2, count: 1 }], haveDigest: heldDigestOf(file, [2]) })),
    /PUT_ACCEPT, chunks held in state joining/,
  );
});

test('a joined stream answered EXISTING, and a primary answered PART, are refused (MESSAGE_UNEXPECTED)', () => {
  const file = fileOf(3 * CHUNK);
  const primary = offeredUpload(file);
  const joined = new UploadSenderMachine(file.length, CHUNK, {
    join: { chunks: [0][Symbol.iterator](), hashes: primary.hashes },
  });
  joined.start();
  rejectsWith('MESSAGE_UNEXPECTED', () =>
    joined.received(
      accept({ existing: true, ranges: [{ first: 0, count: 3 }], haveDigest: heldDigestOf(file, [0, 1, 2]) }),
    ),
  );
  sendAndEnd(primary, file, primary.received(accept({})));
  rejectsWith(
    'MESSAGE_UNEXPECTED',
    () => primary.received(putDone(ZERO, { part: true })),
    /PUT_DONE PART in state ended/,
  );
});

test('a message of another kind for an upload ref is refused with MESSAGE_UNEXPECTED naming it and the state', () => {
  const machine = offeredUpload(fileOf(2 * CHUNK));
  rejectsWith(
    'MESSAGE_UNEXPECTED',
    () => machine.received(wire({ type: 'GET_DATA', ref: 1, offset: 0, data: Buffer.from('x') })),
    /GET_DATA in state offered/,
  );
  rejectsWith('MESSAGE_UNEXPECTED', () => machine.received(putDone(ZERO)), /in state offered/);
});

// --- Download on the server -------------------------------------------------------------------------------

function request(fields: {
  heldSize?: number;
  ranges?: ChunkRange[];
  haveDigest?: Buffer;
  verifyOnly?: boolean;
  stripe?: GetStripe;
}): GetRequestMessage {
  return wire({
    type: 'GET_REQUEST',
    ref: 9,
    chunkBytes: CHUNK,
    verifyOnly: fields.verifyOnly ?? false,
    heldSize: fields.heldSize ?? 0,
    haveDigest: fields.haveDigest ?? ZERO,
    ranges: fields.ranges ?? [],
    path: 'f',
    ...(fields.stripe ? { stripe: fields.stripe } : {}),
  });
}

const FACTS = { mtimeMs: 1_700_000_000_000, mode: 0o640 };

/** Runs a download through its effects the way the server's driver does; returns what it sent and streamed. */
function serve(
  machine: DownloadSenderMachine,
  file: Buffer,
  effects: readonly DownloadEffect[],
): { messages: Message[]; streamed: number[]; checked: number[]; kinds: string[] } {
  const out = {
    messages: [] as Message[],
    streamed: [] as number[],
    checked: [] as number[],
    kinds: [] as string[],
  };
  const queue = [...effects];
  for (let effect = queue.shift(); effect; effect = queue.shift()) {
    out.kinds.push(effect.kind);
    switch (effect.kind) {
      case 'send':
        out.messages.push(wire(effect.message));
        break;
      case 'hash': {
        const done = hashInto(machine.hashes, file, effect.chunks);
        if (effect.check) {
          out.checked.push(...done);
          queue.push(...machine.hashed());
        }
        break;
      }
      case 'stream':
        out.streamed.push(...hashInto(machine.hashes, file, drain(effect.chunks)));
        queue.push(...machine.sent(bytesOf(file, out.streamed)));
        break;
      case 'check-unchanged':
        queue.push(...machine.unchanged());
        break;
      case 'fail':
        throw effect.error;
      default:
        break;
    }
  }
  return out;
}

function downloadOf(file: Buffer, fields: Parameters<typeof request>[0]): DownloadSenderMachine {
  return new DownloadSenderMachine(request(fields), { size: file.length, ...FACTS });
}

test('a GET_REQUEST without a claim gets GET_OFFER without HELD_ACCEPTED, every chunk, then GET_END with the file digest (§5.11.2)', () => {
  const file = fileOf(3 * CHUNK + 1);
  const machine = downloadOf(file, {});
  const run = serve(machine, file, machine.start());
  assert.deepEqual(run.messages, [
    {
      type: 'GET_OFFER',
      ref: 9,
      size: file.length,
      mtimeMs: FACTS.mtimeMs,
      mode: FACTS.mode,
      heldAccepted: false,
    },
    { type: 'GET_END', ref: 9, fileDigest: digestOf(file) },
  ]);
  assert.deepEqual(run.streamed, [0, 1, 2, 3]);
  assert.deepEqual(run.checked, [], 'nothing is hashed for a claim that was not made');
  assert.ok(run.kinds.includes('hashed-whole'), 'a file streamed whole may be remembered by the hash cache');
  assert.equal(machine.state, 'ended');
});

test('a held claim that matches the file is accepted: HELD_ACCEPTED, and only the other chunks follow (§5.11.2)', () => {
  const file = fileOf(5 * CHUNK);
  const machine = downloadOf(file, {
    heldSize: file.length,
    ranges: [{ first: 0, count: 2 }],
    haveDigest: heldDigestOf(file, [0, 1]),
  });
  const start = machine.start();
  assert.deepEqual(start, [
    { kind: 'hash', chunks: ChunkSet.fromRanges(5, [{ first: 0, count: 2 }]), check: true },
  ]);
  const run = serve(machine, file, start);
  assert.deepEqual(run.checked, [0, 1]);
  assert.equal((run.messages[0] as { heldAccepted: boolean }).heldAccepted, true);
  assert.deepEqual(run.streamed, [2, 3, 4]);
  assert.deepEqual(run.messages[1], { type: 'GET_END', ref: 9, fileDigest: digestOf(file) });
  assert.ok(!run.kinds.includes('hashed-whole'));
});

test('a held claim that does not match the file, or names another size, is not accepted: every chunk follows (§5.11.2)', () => {
  const file = fileOf(4 * CHUNK);
  for (const fields of [
    {
      heldSize: file.length,
      ranges: [{ first: 1, count: 2 }],
      haveDigest: heldDigestOf(fileOf(4 * CHUNK, 8), [1, 2]),
    },
    { heldSize: file.length + 1, ranges: [{ first: 1, count: 2 }], haveDigest: heldDigestOf(file, [1, 2]) },
  ]) {
    const machine = downloadOf(file, fields);
    const run = serve(machine, file, machine.start());
    assert.equal((run.messages[0] as { heldAccepted: boolean }).heldAccepted, false);
    assert.deepEqual(run.streamed, [0, 1, 2, 3]);
    assert.deepEqual(run.messages.at(-1), { type: 'GET_END', ref: 9, fileDigest: digestOf(file) });
    assert.deepEqual(run.checked, fields.heldSize === file.length ? [1, 2] : []);
  }
});

test("VERIFY_ONLY is answered with the server's size and digest and no chunk, whatever the client has: the client compares (§5.11.1)", () => {
  const file = fileOf(3 * CHUNK + 5);
  const machine = downloadOf(file, { verifyOnly: true });
  const run = serve(machine, file, machine.start());
  assert.deepEqual(run.messages, [
    {
      type: 'GET_OFFER',
      ref: 9,
      size: file.length,
      mtimeMs: FACTS.mtimeMs,
      mode: FACTS.mode,
      heldAccepted: false,
    },
    { type: 'GET_END', ref: 9, fileDigest: digestOf(file) },
  ]);
  assert.deepEqual(run.streamed, [], 'no file data');
  assert.deepEqual(run.checked, [0, 1, 2, 3], 'hashed as a check, so through the hash cache');
  assert.ok(!run.kinds.includes('hashed-whole'));
  assert.equal(run.kinds.filter((kind) => kind === 'done').length, 1);
  assert.equal(machine.state, 'ended');
});

test("a VERIFY_ONLY of an empty file gets its size 0 and the empty file's digest", () => {
  const file = Buffer.alloc(0);
  const machine = downloadOf(file, { verifyOnly: true });
  const run = serve(machine, file, machine.start());
  assert.deepEqual(run.messages, [
    { type: 'GET_OFFER', ref: 9, size: 0, mtimeMs: FACTS.mtimeMs, mode: FACTS.mode, heldAccepted: false },
    { type: 'GET_END', ref: 9, fileDigest: fileDigest(0, CHUNK, []) },
  ]);
});

test('stripes share the missing chunks by index modulo the count; stripe 0 hashes the others’ chunks for the file digest, a joined stripe proves its own (§5.13.6)', () => {
  const file = fileOf(7 * CHUNK + 3);
  const held = {
    heldSize: file.length,
    ranges: [{ first: 3, count: 1 }],
    haveDigest: heldDigestOf(file, [3]),
  };
  const stripe = (index: number): GetStripe => ({ index, count: 3, minBytes: CHUNK });
  const primary = downloadOf(file, { ...held, stripe: stripe(0) });
  const first = serve(primary, file, primary.start());
  assert.deepEqual(first.messages[0], {
    type: 'GET_OFFER',
    ref: 9,
    size: file.length,
    mtimeMs: FACTS.mtimeMs,
    mode: FACTS.mode,
    heldAccepted: true,
    striped: true,
  });
  assert.deepEqual(first.streamed, [0, 6]);
  assert.deepEqual(first.messages.at(-1), { type: 'GET_END', ref: 9, fileDigest: digestOf(file) });
  const joined = downloadOf(file, { ...held, stripe: stripe(1) });
  const second = serve(joined, file, joined.start());
  assert.deepEqual(second.streamed, [1, 4, 7]);
  assert.deepEqual(second.messages.at(-1), {
    type: 'GET_END',
    ref: 9,
    fileDigest: heldDigestOf(file, [1, 4, 7]),
  });
  assert.ok(!second.kinds.includes('hashed-whole'));
});

const STRIPE_SEED = 1313;
test(`striped downloads, 200 seeded cases (seed ${STRIPE_SEED}): held plus every stripe's chunks is each chunk exactly once, every joined GET_END proves its own, stripe 0 the file (§5.13.6)`, () => {
  const random = new SeededRandom(STRIPE_SEED);
  for (let round = 0; round < 200; round++) {
    const size = random.int(1, 24 * CHUNK);
    const file = random.bytes(size);
    const count = chunkCount(size, CHUNK);
    const heldIndices = Array.from({ length: count }, (_, i) => i).filter(() => random.next() < 0.3);
    const held = new ChunkSet(count);
    for (const index of heldIndices) held.add(index);
    const claim =
      heldIndices.length > 0
        ? { heldSize: size, ranges: held.ranges(), haveDigest: heldDigestOf(file, heldIndices) }
        : {};
    const stripes = random.int(2, 16);
    const seen: number[] = [...heldIndices];
    for (let index = 0; index < stripes; index++) {
      const machine = downloadOf(file, { ...claim, stripe: { index, count: stripes, minBytes: 1 } });
      const run = serve(machine, file, machine.start());
      assert.ok(
        run.streamed.every((chunk) => chunk % stripes === index),
        `round ${round}: stripe ${index} kept to its share`,
      );
      seen.push(...run.streamed);
      const end = run.messages.at(-1)!;
      assert.equal(end.type, 'GET_END');
      const expected = index === 0 ? digestOf(file) : heldDigestOf(file, run.streamed);
      assert.deepEqual(
        (end as { fileDigest: Buffer }).fileDigest,
        expected,
        `round ${round}: stripe ${index}'s digest`,
      );
    }
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      Array.from({ length: count }, (_, i) => i),
      `round ${round}: every chunk once`,
    );
  }
});

test('a stripe below its stripeMinBytes is ignored: one stream sends every missing chunk, not STRIPED (§5.13.6)', () => {
  const file = fileOf(4 * CHUNK);
  const machine = downloadOf(file, { stripe: { index: 1, count: 2, minBytes: file.length + 1 } });
  const run = serve(machine, file, machine.start());
  assert.equal('striped' in run.messages[0]!, false);
  assert.deepEqual(run.streamed, [0, 1, 2, 3]);
  assert.deepEqual(run.messages.at(-1), { type: 'GET_END', ref: 9, fileDigest: digestOf(file) });
});

test('a file that changed while it was sent ends with SOURCE_CHANGED, never GET_END (§5.6.1)', () => {
  const file = fileOf(2 * CHUNK);
  const changed = new FerryError('SOURCE_CHANGED', 'ctime moved');
  for (const after of ['sending', 'closing'] as const) {
    const machine = downloadOf(file, {});
    machine.start();
    if (after === 'closing') machine.sent(file.length);
    assert.equal(machine.state, after);
    assert.deepEqual(machine.sourceChanged(changed), [{ kind: 'fail', error: changed }]);
  }
});

test('a file needing more than MAX_TRANSFER_CHUNKS chunks of the asked size is refused with FILE_TOO_LARGE', () => {
  rejectsWith(
    'FILE_TOO_LARGE',
    () => new DownloadSenderMachine(request({}), { size: (MAX_TRANSFER_CHUNKS + 1) * CHUNK, ...FACTS }),
  );
});

// --- The tables themselves ----------------------------------------------------------------------------------

for (const [name, table, finals] of [
  ['UPLOAD_SENDER_TRANSITIONS', UPLOAD_SENDER_TRANSITIONS, ['done', 'failed']],
  ['DOWNLOAD_SENDER_TRANSITIONS', DOWNLOAD_SENDER_TRANSITIONS, ['ended', 'failed']],
] as const) {
  test(`${name} has no dead end: every state is reached from new, and only ${finals.join(' and ')} have no way on`, () => {
    const rows: readonly { state: string; event: string; next: string }[] = table;
    const from = new Set(rows.map((row) => row.state));
    const reached = new Set(['new']);
    for (let grew = true; grew;) {
      grew = false;
      for (const row of rows) {
        if (reached.has(row.state) && !reached.has(row.next)) {
          reached.add(row.next);
          grew = true;
        }
      }
    }
    const states = new Set([...from, ...rows.map((row) => row.next)]);
    assert.deepEqual(
      [...states].filter((state) => !reached.has(state)),
      [],
      'unreachable states',
    );
    assert.deepEqual(
      [...states].filter((state) => !from.has(state)).sort(),
      [...finals].sort(),
      'states without a way on',
    );
    for (const final of finals) assert.ok(!from.has(final), `${final} is final`);
  });
}
