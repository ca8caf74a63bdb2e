// An upload to an object store is held in parts of at least 5 MiB (S3's smallest multipart part), at most
// MAX_CACHED_PARTS (8) of them in the server's memory per transfer; a write to a ninth part uploads the least
// recently used one (the bytes it holds so far) and a later write to that part loads it back. A client may
// keep up to 64 chunks open per transfer (PROTOCOL.md §5.5.1; one per joined stream keeps to the SHOULD), so
// it can feed nine chunks in nine parts a few bytes at a time, in turn: every PUT_DATA of a few bytes made the
// server upload a part and load another back, each up to 5 MiB, unpaid (measured: 354 store requests for 180
// PUT_DATA of 16 bytes; with each chunk the last of its part, ~5 MiB a request). Each part loaded back while
// writing is now paid first from the client's hashing budget (per client and in total), as any store work its
// data does not pay for: past the burst the session waits. Against a real Swift; every store request counted
// by the store client's middleware, the budget on an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkHashOf } from '../../src/protocol/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { serveObjectStore } from '../helpers/object-store-server.js';
import { useSwiftNode } from '../helpers/swift-node.js';

const swift = useSwiftNode();
const MiB = 1024 * 1024;
const PART = 5 * MiB;
const CHUNK = 64 * 1024;
const PARTS = 9;
const ROUNDS = 20;
const PIECE = 16;

/** A client's hashing budget: `bytes` at once and `bytes` a second. */
function budgetOf(bytes: number): { bytesPerSecond: number; burstBytes: number } {
  return { bytesPerSecond: bytes, burstBytes: bytes };
}

test('PUT_DATA of a few bytes spread over more parts than the server holds pays every part it loads back from the client`s hashing budget', async (t) => {
  let clock = 1_000_000;
  const waits: number[] = [];
  /** The budget's waits pass on the injected clock at once, and are kept. */
  const sleep = (ms: number): Promise<void> => {
    waits.push(ms);
    clock += ms;
    return Promise.resolve();
  };
  const { server, key, counts } = await serveObjectStore(t, swift(), 'thrash/', {
    durableBatchBytes: CHUNK,
    // One MiB at once and one a second, for this client and for all: a part's load waits 5 s of the clock.
    hashBudget: { ...budgetOf(MiB), totalBytesPerSecond: MiB, totalBurstBytes: MiB, now: () => clock, sleep },
  });
  const session = await openAdmittedSession(t, server.address, key);
  await session.send({
    type: 'PUT_OFFER',
    ref: 1,
    size: PARTS * PART,
    mtimeMs: 1_700_000_000_000,
    chunkBytes: CHUNK,
    mode: 0o644,
    overwrite: false,
    fresh: true,
    path: 'thrash.bin',
  });
  await receiveMessage(session, 'PUT_ACCEPT');
  const loadsBefore = counts.get('GetObjectCommand') ?? 0;
  // The first chunk of each of nine parts, a few bytes at a time, in turn.
  const zeros = Buffer.alloc(CHUNK);
  for (let round = 0; round < ROUNDS; round++)
    for (let part = 0; part < PARTS; part++)
      await session.send({
        type: 'PUT_DATA',
        ref: 1,
        offset: part * PART + round * PIECE,
        data: zeros.subarray(0, PIECE),
      });
  // Chunk 0 completed and verified: its PROGRESS comes once every write before it has landed.
  await session.send({
    type: 'PUT_DATA',
    ref: 1,
    offset: ROUNDS * PIECE,
    data: zeros.subarray(ROUNDS * PIECE),
  });
  await session.send({ type: 'PUT_CHUNK', ref: 1, index: 0, chunkHash: chunkHashOf(zeros) });
  let message = await session.receive();
  while (message.type !== 'PROGRESS') message = await session.receive();
  const loads = (counts.get('GetObjectCommand') ?? 0) - loadsBefore;
  assert.ok(loads >= ROUNDS, `the parts were loaded back (${loads} times): the writes did thrash`);
  const paid = MiB + (waits.reduce((a, b) => a + b, 0) / 1000) * MiB;
  assert.ok(
    paid >= loads * PART,
    `${loads} parts of ${PART} bytes loaded back, ${paid} bytes paid (${waits.length} waits)`,
  );
});
