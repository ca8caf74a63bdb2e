// Downloads that read and hash more of a file than they send (stop 42). The hashing budget pays for hashing
// that sends no file data (docs/SECURITY.md "Hashing on request"); a download that sends what it reads is
// paid by the client's own bandwidth. Two did neither: a PATCH request (PROTOCOL.md §5.17.4) makes the server
// read and hash every chunk not held whole for its GET_CHUNK, and send only the pieces asked for, one byte a
// leaf if the client likes (no signature needed before); the primary of a striped download (§5.13.6) hashes
// the chunks its joined stripes were to send, and reads them when no stripe sent them (a client that asks for
// stripe 0 alone, of 16, gets a sixteenth and makes the server read the rest). Both now pay for what they
// read and do not send before reading it. Here the budget never pays past its first byte, and its wait says
// how much was asked: the test sees the request wait for its payment before anything is read.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  HASH_BYTES,
  LEAF_BYTES,
  LEAF_DELTA_FROM_BYTES,
  PERMISSION_DOWNLOAD,
  type GetRequestMessage,
} from '../../src/protocol/index.js';
import type { FerryServer } from '../../src/server/index.js';
import { SIGNING_COUNTERS } from '../../src/transfer/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

/** 16 leaves: a PATCH request's chunks are leaves, and 16 is the largest stripe count. */
const SIZE = 16 * LEAF_BYTES;

const REQUEST: Omit<GetRequestMessage, 'ref'> = {
  type: 'GET_REQUEST',
  chunkBytes: LEAF_BYTES,
  verifyOnly: false,
  heldSize: 0,
  ranges: [],
  haveDigest: Buffer.alloc(HASH_BYTES),
  path: 'file.bin',
};

/**
 * Sends `request` to a server whose client's hashing budget has one byte and never refills (1000 bytes a
 * second, so a wait of N ms is a debt of N bytes), and tells what came first: the budget's wait (with the
 * debt), or the whole answer (its GET_CHUNKs counted, and whether its GET_OFFER was PATCHED), read to GET_END.
 */
async function firstOf(
  t: TestContext,
  request: Omit<GetRequestMessage, 'ref'>,
  size = SIZE,
): Promise<{ outcome: { waited: number } | { chunks: number; patched: boolean }; server: FerryServer }> {
  let waited: (debtBytes: number) => void = () => undefined;
  const waiting = new Promise<{ waited: number }>((resolve) => (waited = (ms) => resolve({ waited: ms })));
  const { dir, server } = await startTempDirServer(t, 'ferry-unsent-hashing-paid-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    hashBudget: {
      burstBytes: 1,
      bytesPerSecond: 1000,
      sleep: (ms) => {
        waited(ms);
        return new Promise<void>(() => undefined);
      },
    },
  });
  await writeFile(join(dir, 'root', 'file.bin'), Buffer.alloc(size, 7));
  const session = await openAdmittedSession(t, server.address, generateKeyPair());
  await session.send({ ...request, ref: 1 });
  const answered = (async () => {
    let chunks = 0;
    let patched = false;
    for (;;) {
      const message = await session.receive();
      if (message.type === 'GET_END') return { chunks, patched };
      if (message.type === 'GET_OFFER') patched = message.patched === true;
      if (message.type === 'GET_CHUNK') chunks++;
      else assert.ok(['GET_OFFER', 'GET_DATA', 'DELTA_BLOCKS'].includes(message.type), `got ${message.type}`);
    }
  })();
  answered.catch(() => undefined); // the session closes under it once the test ends
  return { outcome: await Promise.race([waiting, answered]), server };
}

test('a PATCH request pays for the chunk bytes it reads but does not send, before reading them', async (t) => {
  // One byte asked of the file's first leaf: the server reads all 16 leaves to hash them for GET_CHUNK.
  const { outcome } = await firstOf(t, { ...REQUEST, patch: [{ offset: 0, length: 1 }] });
  // Before: the whole answer came (16 GET_CHUNKs, 1 MiB read and hashed for 1 byte sent), unpaid.
  assert.deepEqual(outcome, { waited: SIZE - 1 - 1 }, 'the file less the byte sent, less the burst of 1');
});

// Stop 43: pieces are for files under 16 MiB (§5.17.4); one byte of a file of 16 MiB made the server read
// and hash all of it, paid but for one byte sent. Now its chunks go whole: read is sent, nothing to pay.
test('a PATCH request for a file of 16 MiB is answered whole, unpatched, with no payment', async (t) => {
  const size = LEAF_DELTA_FROM_BYTES;
  const { outcome } = await firstOf(t, { ...REQUEST, patch: [{ offset: 0, length: 1 }] }, size);
  // Before: { waited: size - 2 }, the file less the byte sent, less the burst.
  assert.deepEqual(outcome, { chunks: size / LEAF_BYTES, patched: false });
});

test('a PATCH request pays nothing for the pieces it sends', async (t) => {
  // Every byte of the file asked for, in 64 pieces (4 a leaf, 16 KiB each): nothing read goes unsent.
  const patch = Array.from({ length: SIZE / (16 * 1024) }, (_, i) => ({
    offset: i * 16 * 1024,
    length: 16 * 1024,
  }));
  assert.deepEqual((await firstOf(t, { ...REQUEST, patch })).outcome, { chunks: 16, patched: true });
});

test('the primary of a striped download pays for the chunks it reads that no stripe sent', async (t) => {
  // Stripe 0 of 16 sends leaf 0 and states the file digest: the 15 other leaves, sent by no stripe, are read.
  const { outcome } = await firstOf(t, { ...REQUEST, stripe: { index: 0, count: 16, minBytes: 0 } });
  // Before: the whole answer came (1 GET_CHUNK, 15 leaves read and hashed unpaid). Paid a leaf at a time.
  assert.deepEqual(outcome, { waited: LEAF_BYTES - 1 });
});

// The lead that started this pass: a SIGNATURE request (§5.17.1) waiting for its payment showed its file's
// bytes in `hashCache.hashedBytes`, as if the server had hashed the file before the signing waited. It had
// not: the counter was raised before the wait. Its GET_OFFER carries no digest, and the signing reads nothing
// before it is paid (in leaves, from 16 MiB: SIGNING_COUNTERS); the counter now counts once paid.
test('a SIGNATURE request reads and hashes nothing before its signing is paid', async (t) => {
  const size = 256 * LEAF_BYTES;
  const before = { ...SIGNING_COUNTERS };
  const { outcome, server } = await firstOf(t, { ...REQUEST, signature: true }, size);
  assert.deepEqual(outcome, { waited: size - 1 }, 'the whole file paid for, first');
  assert.equal(SIGNING_COUNTERS.readLeaves, before.readLeaves, 'no leaf read');
  assert.equal(SIGNING_COUNTERS.hashedLeaves, before.hashedLeaves, 'no leaf hashed');
  // Before: 16 MiB, counted before the wait.
  assert.equal(server.hashCache.hashedBytes, 0);
});
