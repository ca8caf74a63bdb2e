// An upload to an object store holds its bytes in parts of at least 5 MiB (one chunk when chunks are larger,
// up to 64 MiB) in the server's memory. Parts used to stay there after they were uploaded, up to 8 per upload,
// and nothing bounded them per client or in total: one sequential upload of 64 MiB chunks held ~512 MiB, 32
// sessions of one client ~16 GiB. A part the store has whole is now freed once uploaded, and the bytes held are
// reserved from the server's PartMemory (per client and in total): an offer whose largest part does not fit is
// refused with SERVER_BUSY (retryable), never left waiting. Against a real Swift; every store request counted.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SecureChannel } from '../../src/channel/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import type { PartMemoryOptions } from '../../src/server/part-memory.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { serveObjectStore } from '../helpers/object-store-server.js';
import { RawUpload } from '../helpers/raw-upload.js';
import { useSwiftNode } from '../helpers/swift-node.js';

const swift = useSwiftNode();
const MiB = 1024 * 1024;
const PART = 5 * MiB;
const CHUNK = 64 * 1024;
/** Two whole parts and a last one of one chunk. */
const SIZE = 2 * PART + CHUNK;
const CHUNKS = SIZE / CHUNK;
/** The server makes its partials durable every MiB: a part is uploaded (as it is so far) five times. */
const BATCH = MiB;

function startServer(t: TestContext, partMemory: PartMemoryOptions): ReturnType<typeof serveObjectStore> {
  return serveObjectStore(t, swift(), `${randomBytes(4).toString('hex')}/`, {
    durableBatchBytes: BATCH,
    partMemory,
  });
}

/**
 * Sends chunks [from, to) and, when they end a batch, waits until the server made them durable (their part is in
 * the store); a last short batch is made durable by PUT_END.
 */
async function sendDurable(
  session: SecureChannel,
  upload: RawUpload,
  from: number,
  to: number,
): Promise<void> {
  for (let index = from; index < to; index++) await upload.sendChunk(session, 1, index);
  if ((to * CHUNK) % BATCH !== 0) return;
  let verified = 0;
  while (verified < to * CHUNK) verified = (await receiveMessage(session, 'PROGRESS')).verifiedBytes;
}

/** Two sequential uploads in turn, a part at a time, each PUT_DONE. */
async function uploadInTurn(sessions: SecureChannel[], uploads: RawUpload[]): Promise<void> {
  const perPart = PART / CHUNK;
  for (let from = 0; from < CHUNKS; from += perPart)
    for (const [i, session] of sessions.entries())
      await sendDurable(session, uploads[i]!, from, Math.min(CHUNKS, from + perPart));
  for (const [i, session] of sessions.entries()) await uploads[i]!.finish(session, 1);
}

test('uploads to an object store hold one part each once a part is stored, with no extra store request', async (t) => {
  const { server, key, counts } = await startServer(t, {});
  const uploads = [0, 1].map((i) => new RawUpload(randomBytes(SIZE), CHUNK, `seq-${i}.bin`));
  const sessions = await Promise.all(uploads.map(() => openAdmittedSession(t, server.address, key)));
  for (const [i, session] of sessions.entries()) {
    await session.send(uploads[i]!.offer(1));
    await receiveMessage(session, 'PUT_ACCEPT');
  }
  const getsBefore = counts.get('GetObjectCommand') ?? 0;
  const putsBefore = counts.get('PutObjectCommand') ?? 0;
  await uploadInTurn(sessions, uploads);
  // Before: each upload kept every part it had written (8 at most) until it finished: 2 x 10.06 MiB here.
  assert.ok(
    server.partMemory.peakBytes <= uploads.length * PART,
    `${server.partMemory.peakBytes} bytes held in parts at once by ${uploads.length} uploads of ${PART}-byte parts`,
  );
  assert.equal(server.partMemory.heldBytes, 0, 'every finished upload gave its memory back');
  // Nothing loaded back; per batch one part (as it is so far) and the state object, as before.
  assert.equal((counts.get('GetObjectCommand') ?? 0) - getsBefore, 0, 'no part was loaded back');
  const batches = Math.ceil(SIZE / BATCH);
  assert.equal((counts.get('PutObjectCommand') ?? 0) - putsBefore, uploads.length * batches * 2);
});

test('an offer whose part does not fit the server`s part memory is refused with SERVER_BUSY, and accepted once it fits', async (t) => {
  // Room for two uploads' parts in total.
  const { server, key, counts } = await startServer(t, { totalBytes: 2 * PART });
  const uploads = [0, 1, 2].map((i) => new RawUpload(randomBytes(SIZE), CHUNK, `bound-${i}.bin`));
  const sessions = await Promise.all(uploads.map(() => openAdmittedSession(t, server.address, key)));
  for (const i of [0, 1]) {
    await sessions[i]!.send(uploads[i]!.offer(1));
    await receiveMessage(sessions[i]!, 'PUT_ACCEPT');
  }
  await sessions[2]!.send(uploads[2]!.offer(1));
  const refused = await receiveMessage(sessions[2]!, 'ERROR');
  assert.equal(refused.code, ERROR_CODES.SERVER_BUSY.wire, JSON.stringify(refused));
  // The two accepted go on within their one part each: nothing is loaded back, nothing waits.
  const getsBefore = counts.get('GetObjectCommand') ?? 0;
  await uploadInTurn(sessions.slice(0, 2), uploads.slice(0, 2));
  assert.equal((counts.get('GetObjectCommand') ?? 0) - getsBefore, 0, 'no part was loaded back');
  assert.ok(server.partMemory.peakBytes <= 2 * PART, `${server.partMemory.peakBytes} bytes held at once`);
  assert.equal(server.partMemory.heldBytes, 0);
  // The refused offer, made again, fits now.
  await sessions[2]!.send(uploads[2]!.offer(2));
  await receiveMessage(sessions[2]!, 'PUT_ACCEPT');
  assert.equal(server.partMemory.heldBytes, PART);
});
