// A joined stream must present the join token of the primary's PUT_ACCEPT (PROTOCOL.md §5.13.2): another
// session of the same client without it, or with another one, is refused for its ref and touches nothing; with
// it the stream writes into the primary's transfer. And a joined stream that ends with a chunk half-sent gets
// no PART (§5.13.4). Raw sessions of one client key against a real server on loopback, real files.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import {
  JOIN_TOKEN_BYTES,
  PERMISSION_UPLOAD,
  encodeMessage,
  type Message,
} from '../../src/protocol/index.js';
import type { FerryServer } from '../../src/server/index.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { openAdmittedSession, receiveMessage as receive } from '../helpers/admitted-session.js';
import { RawUpload } from '../helpers/raw-upload.js';

const CHUNK_BYTES = 64 * 1024; // one leaf: the smallest chunk (PROTOCOL.md §7.2)
const upload = new RawUpload(randomBytes(3 * CHUNK_BYTES), CHUNK_BYTES);
const offer = (ref: number, join?: Buffer): Message => upload.offer(ref, join);
/** The token the server's injected random source issues first: a test can tell it from any other. */
const ISSUED = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

interface Rig {
  root: string;
  server: FerryServer;
  /** Every token the server drew, in order. */
  issued: Buffer[];
  /** A new admitted session of the one client. */
  session: () => Promise<SecureChannel>;
}

async function startRig(t: TestContext): Promise<Rig> {
  const identity = generateKeyPair();
  const issued: Buffer[] = [];
  const { server } = await startTempDirServer(t, 'ferry-join-token-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    // A PROGRESS per verified chunk: the test waits on it instead of guessing when a chunk is held.
    durableBatchBytes: CHUNK_BYTES,
    random: (bytes) => {
      const token = issued.length === 0 ? Buffer.from(ISSUED) : randomBytes(bytes);
      issued.push(token);
      return token;
    },
  });
  return {
    root: server.root,
    server,
    issued,
    session: () => openAdmittedSession(t, server.address, identity),
  };
}

/** The primary offers the file and has chunk 0 verified and durable; returns it with its PUT_ACCEPT's token. */
async function primaryWithChunk0(rig: Rig): Promise<{ primary: SecureChannel; token: Buffer }> {
  const primary = await rig.session();
  return { primary, token: await upload.startWithChunk0(primary) };
}

/** Ends the primary with the file digest and checks the stored file is the content. */
async function finishPrimary(rig: Rig, primary: SecureChannel): Promise<void> {
  await upload.finish(primary, 1);
  assert.ok((await readFile(join(rig.root, 'f.bin'))).equals(upload.content));
}

test('the primary PUT_ACCEPT carries the token from the injected random source', async (t) => {
  const rig = await startRig(t);
  const { primary, token } = await primaryWithChunk0(rig);
  assert.equal(token.length, JOIN_TOKEN_BYTES);
  assert.ok(token.equals(ISSUED), 'the token is the one the server drew');
  assert.equal(rig.issued.length, 1, 'one token per accepted partial');
  primary.close();
});

test('a JOIN with a wrong token, or an all-zero one, is refused with PATH_NOT_FOUND for its ref and touches nothing; the session goes on', async (t) => {
  const rig = await startRig(t);
  const { primary, token } = await primaryWithChunk0(rig);
  const other = await rig.session();
  const partialsBefore = await readdir(join(rig.root, '.ferry', 'partial'));

  const wrong = Buffer.from(token);
  wrong[JOIN_TOKEN_BYTES - 1] = (wrong[JOIN_TOKEN_BYTES - 1] ?? 0) ^ 1;
  for (const [ref, bad] of [
    [1, wrong],
    [2, Buffer.alloc(JOIN_TOKEN_BYTES)],
    [3, randomBytes(JOIN_TOKEN_BYTES)],
  ] as const) {
    await other.send(offer(ref, bad));
    // Data right behind the JOIN, as a client that trusted it would send: never written anywhere.
    await other.send({
      type: 'PUT_DATA',
      ref,
      offset: CHUNK_BYTES,
      data: Buffer.alloc(CHUNK_BYTES >> 1, 0x58),
    });
    const refused = await receive(other, 'ERROR');
    assert.equal(refused.code, ERROR_CODES.PATH_NOT_FOUND.wire, JSON.stringify(refused));
    assert.equal(refused.ref, ref);
    assert.equal(refused.detail, 'no matching transfer to join', 'the same answer as for no transfer');
  }
  assert.deepEqual(
    await readdir(join(rig.root, '.ferry', 'partial')),
    partialsBefore,
    'no partial made or removed',
  );
  // The session goes on: it offers another file.
  await other.send({ ...offer(4), path: 'g.bin' } as Message);
  assert.deepEqual((await receive(other, 'PUT_ACCEPT')).ranges, []);
  other.close();

  // The primary's transfer is untouched: had the refused data opened chunk 1 on the other stream, the
  // primary's chunk 1 would be refused as open on another stream; it holds chunk 0 only and finishes.
  await upload.sendChunk(primary, 1, 1);
  assert.equal((await receive(primary, 'PROGRESS')).verifiedBytes, 2 * CHUNK_BYTES);
  await upload.sendChunk(primary, 1, 2);
  assert.equal((await receive(primary, 'PROGRESS')).verifiedBytes, 3 * CHUNK_BYTES);
  await finishPrimary(rig, primary);
});

test('a JOIN without a token at all is malformed: the PUT_OFFER ends at its path', async (t) => {
  const rig = await startRig(t);
  const { primary } = await primaryWithChunk0(rig);
  const other = await rig.session();
  // The JOIN flag set on the bytes of an offer without a token (flags is the byte before the path).
  const bytes = encodeMessage(offer(1));
  const flagsAt = 1 + 4 + 8 + 8 + 4 + 2;
  bytes[flagsAt] = 4;
  await other.sendPlaintext(bytes);
  const refused = await receive(other, 'ERROR');
  assert.equal(refused.code, ERROR_CODES.MESSAGE_MALFORMED.wire, JSON.stringify(refused));
  assert.match(refused.detail, /joinToken/);
  await upload.sendChunk(primary, 1, 1);
  assert.equal((await receive(primary, 'PROGRESS')).verifiedBytes, 2 * CHUNK_BYTES);
});

test('with the token the joined stream writes into the primary transfer, ends with PART, and the primary finishes', async (t) => {
  const rig = await startRig(t);
  const { primary, token } = await primaryWithChunk0(rig);
  const joined = await rig.session();
  await joined.send(offer(1, token));
  const accept = await receive(joined, 'PUT_ACCEPT');
  // §5.13.2: a joined PUT_ACCEPT lists nothing and issues no token of its own.
  assert.deepEqual(accept.ranges, []);
  assert.ok(accept.joinToken.equals(Buffer.alloc(JOIN_TOKEN_BYTES)));
  assert.ok(accept.haveDigest.equals(Buffer.alloc(32)));
  await upload.sendChunk(joined, 1, 1);
  await joined.send({ type: 'PUT_END', ref: 1, fileDigest: Buffer.alloc(32) });
  const part = await receive(joined, 'PUT_DONE');
  assert.equal(part.part, true);
  await upload.sendChunk(primary, 1, 2);
  await finishPrimary(rig, primary);
});

test('a joined stream that ends with a chunk half-sent gets no PART: MESSAGE_MALFORMED, and the chunk is not held', async (t) => {
  const rig = await startRig(t);
  const { primary, token } = await primaryWithChunk0(rig);
  const joined = await rig.session();
  await joined.send(offer(1, token));
  await receive(joined, 'PUT_ACCEPT');
  // Half of chunk 1, no PUT_CHUNK, then the stream's end.
  await joined.send({
    type: 'PUT_DATA',
    ref: 1,
    offset: CHUNK_BYTES,
    data: upload.chunk(1).subarray(0, 512),
  });
  await joined.send({ type: 'PUT_END', ref: 1, fileDigest: Buffer.alloc(32) });
  const refused = await receive(joined, 'ERROR');
  assert.equal(refused.code, ERROR_CODES.MESSAGE_MALFORMED.wire, JSON.stringify(refused));
  assert.match(refused.detail, /chunk 1 not completed/);
  // Chunk 1 went back to unverified: the primary may send it whole and the file finishes.
  await upload.sendChunk(primary, 1, 1);
  assert.equal((await receive(primary, 'PROGRESS')).verifiedBytes, 2 * CHUNK_BYTES);
  await upload.sendChunk(primary, 1, 2);
  await finishPrimary(rig, primary);
});

test('a takeover issues a new token: the old primary token no longer joins', async (t) => {
  const rig = await startRig(t);
  const { primary, token } = await primaryWithChunk0(rig);
  const next = await rig.session();
  await next.send(offer(1));
  const accept = await receive(next, 'PUT_ACCEPT');
  assert.ok(!accept.joinToken.equals(token), 'a new primary, a new token');
  const taken = await primary.receive();
  assert.equal(taken.type, 'ERROR', JSON.stringify(taken));
  const joined = await rig.session();
  await joined.send(offer(1, token));
  assert.equal((await receive(joined, 'ERROR')).code, ERROR_CODES.PATH_NOT_FOUND.wire);
  await joined.send(offer(2, accept.joinToken));
  assert.equal((await receive(joined, 'PUT_ACCEPT')).ref, 2);
});
