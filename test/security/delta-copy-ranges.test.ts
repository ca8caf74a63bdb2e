// A client with upload and download permission attacks a delta upload's PUT_COPY (PROTOCOL.md §5.15.3) over
// a raw session: ranges past the old file's end, past the new file's end, at offsets near 2^53, across a
// chunk, over leaves the server placed in the partial while signing. Each must be refused with a coded
// error (or, where legal, checked like any data): the old file is never changed, nothing is written outside
// the root, and no file appears under a final name with bytes other than the digest the client claimed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecureChannel } from '../../src/channel/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  chunkHashOf,
  deltaBlockBytesFor,
  deltaBlockCount,
  fileDigest,
  type Message,
} from '../../src/protocol/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const CHUNK = 64 * 1024;
const SIZE = 4 * CHUNK;

async function rig(t: TestContext): Promise<{
  dir: string;
  old: Buffer;
  open: (path: string) => Promise<SecureChannel>;
}> {
  const identity = generateKeyPair();
  const { dir, server } = await startTempDirServer(t, 'ferry-delta-copy-', {
    authorize: (key) =>
      key.equals(identity.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
  });
  const old = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) old[i] = (i * 31 + 7) & 0xff;
  // Opens a session with a delta upload of `path` (a copy of the old file) accepted and its signature read.
  const open = async (path: string): Promise<SecureChannel> => {
    await writeFile(join(dir, 'root', path), old);
    const session = await openAdmittedSession(t, server.address, identity);
    const offer: Message = {
      type: 'PUT_OFFER',
      ref: 1,
      size: SIZE,
      mtimeMs: 1_700_000_000_000,
      chunkBytes: CHUNK,
      mode: 0o644,
      overwrite: true,
      fresh: false,
      delta: true,
      path,
    };
    await session.send(offer);
    assert.equal((await receiveMessage(session, 'PUT_ACCEPT')).delta, true);
    const blocks = deltaBlockCount(SIZE, deltaBlockBytesFor(SIZE));
    for (let signed = 0; signed < blocks;) {
      const record = await receiveMessage(session, 'DELTA_BLOCKS');
      signed = record.firstBlock + record.weak.length;
    }
    return session;
  };
  return { dir, old, open };
}

/** The server's answer to what was sent: an ERROR's code, or the session's end. */
async function answerOf(session: SecureChannel): Promise<string> {
  try {
    const message = await session.receive();
    return message.type === 'ERROR' ? `ERROR ${message.code}` : message.type;
  } catch (err) {
    return `closed ${(err as { code?: string }).code ?? ''}`;
  }
}

test('PUT_COPY ranges outside the old file, outside the new file or near 2^53 are refused, and change nothing', async (t) => {
  const { dir, old, open } = await rig(t);
  const hostile: Array<{ name: string; offset: number; oldOffset: number; length: number }> = [
    { name: 'past the old file', offset: 0, oldOffset: SIZE - 10, length: 20 },
    { name: 'starting past the old file', offset: 0, oldOffset: SIZE, length: 1 },
    { name: 'past the new file', offset: SIZE - 10, oldOffset: 0, length: 20 },
    // The codec itself refuses a range whose end passes 2^53 - 1 (§5.15.3); these end just under it.
    { name: 'old offset near 2^53', offset: 0, oldOffset: Number.MAX_SAFE_INTEGER - 2, length: 2 },
    { name: 'the longest length (2^26, the bound of the codec)', offset: 0, oldOffset: 0, length: 2 ** 26 },
    { name: 'new offset near 2^53', offset: Number.MAX_SAFE_INTEGER - 2, oldOffset: 0, length: 2 },
  ];
  for (const [i, copy] of hostile.entries()) {
    const path = `copy-${i}.bin`;
    const session = await open(path);
    await session.send({ type: 'PUT_COPY', ref: 1, ...copy });
    // Had it been taken, PUT_END with a wrong digest would be refused as DIGEST_MISMATCH, never placed.
    await session.send({ type: 'PUT_END', ref: 1, fileDigest: Buffer.alloc(32) });
    const answer = await answerOf(session);
    assert.match(answer, /^(ERROR|closed)/, `${copy.name}: ${answer}`);
    assert.deepEqual(await readFile(join(dir, 'root', path)), old, `${copy.name}: the old file is unchanged`);
  }
  assert.deepEqual(
    (await readdir(join(dir, 'root'))).filter((name) => name !== '.ferry').sort(),
    hostile.map((_, i) => `copy-${i}.bin`).sort(),
    'nothing else appeared in the root',
  );
});

test('copies in place over leaves the server placed while signing, around new data, place exactly the client`s file; data over copied bytes is refused', async (t) => {
  const { dir, old, open } = await rig(t);
  // The new file: the old one with 100 bytes of chunk 1 changed, sent as the client would (copies around
  // the change), so most leaves count with the hashes the server signed them with, unhashed again.
  const next = Buffer.from(old);
  next.fill(0xee, CHUNK + 5000, CHUNK + 5100);
  const chunks = [0, 1, 2, 3].map((i) => next.subarray(i * CHUNK, (i + 1) * CHUNK));
  const digest = fileDigest(
    SIZE,
    CHUNK,
    chunks.map((c) => chunkHashOf(c)),
  );
  const send = async (session: SecureChannel, overData: boolean): Promise<string[]> => {
    for (let i = 0; i < 4; i++) {
      const at = i * CHUNK;
      if (i !== 1) {
        await session.send({ type: 'PUT_COPY', ref: 1, offset: at, oldOffset: at, length: CHUNK });
      } else if (!overData) {
        await session.send({ type: 'PUT_COPY', ref: 1, offset: at, oldOffset: at, length: 5000 });
        await session.send({
          type: 'PUT_DATA',
          ref: 1,
          offset: at + 5000,
          data: next.subarray(at + 5000, at + 5100),
        });
        await session.send({
          type: 'PUT_COPY',
          ref: 1,
          offset: at + 5100,
          oldOffset: at + 5100,
          length: CHUNK - 5100,
        });
      } else {
        // The attack: the whole chunk copied in place (its placed leaves count as signed), then the changed
        // bytes written over them, hoping the leaf hashes of the old bytes still vouch for the new ones.
        await session.send({ type: 'PUT_COPY', ref: 1, offset: at, oldOffset: at, length: CHUNK });
        await session.send({
          type: 'PUT_DATA',
          ref: 1,
          offset: at + 5000,
          data: next.subarray(at + 5000, at + 5100),
        });
      }
      await session.send({ type: 'PUT_CHUNK', ref: 1, index: i, chunkHash: chunkHashOf(chunks[i]!) });
    }
    await session.send({ type: 'PUT_END', ref: 1, fileDigest: digest });
    const answers: string[] = [];
    for (;;) {
      const answer = await answerOf(session);
      answers.push(answer);
      if (answer !== 'PROGRESS') return answers;
    }
  };
  assert.deepEqual((await send(await open('honest.bin'), false)).at(-1), 'PUT_DONE');
  assert.deepEqual(await readFile(join(dir, 'root', 'honest.bin')), next);

  const refused = await send(await open('attack.bin'), true);
  assert.match(refused.at(-1)!, /^(ERROR|closed)/, refused.join(', '));
  assert.deepEqual(await readFile(join(dir, 'root', 'attack.bin')), old, 'the old file stays as it was');
});
