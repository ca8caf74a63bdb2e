// A client that fills its pipeline with downloads waiting for the hashing budget, then hangs up (stop 42).
// Each download's wait ended with the download's own signal (a CANCEL, or the session's end), and the session
// ends only once its receive loop sees the connection close: with MAX_PIPELINED downloads queued the loop
// waits for room among them instead of reading, so nothing ended the waits, and the session, its open file
// and its connection slot stayed for as long as the client's debt lasted (here: forever). The queue's
// downloads now stop when the connection closes. Real server on loopback, raw session; the budget's sleep
// never ends on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { HASH_BYTES, MAX_PIPELINED, PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const SIZE = 64 * 1024;

test(
  'downloads filling the pipeline while they wait for the hashing budget end with their connection',
  { timeout: 60_000 },
  async (t) => {
    let slept: () => void = () => undefined;
    const sleeping = new Promise<void>((resolve) => (slept = resolve));
    const { dir, server } = await startTempDirServer(t, 'ferry-hash-budget-pipelined-', {
      authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
      hashBudget: {
        burstBytes: 1,
        bytesPerSecond: 1,
        sleep: () => {
          slept();
          return new Promise<void>(() => undefined);
        },
      },
    });
    await writeFile(join(dir, 'root', 'file.bin'), Buffer.alloc(SIZE, 1));
    const closed = new Promise<void>((resolve) =>
      server.events.on('event', (event: { type: string }) => {
        if (event.type === 'session-closed') resolve();
      }),
    );
    const session = await openAdmittedSession(t, server.address, generateKeyPair());
    // PROTOCOL.md §5.11.1: verify-only checks, each hashed (paid first) before it is answered; one more than
    // the pipeline's bound, so the receive loop waits for room instead of reading.
    const check = { chunkBytes: SIZE, verifyOnly: true, heldSize: 0, ranges: [] };
    const none = Buffer.alloc(HASH_BYTES);
    for (let ref = 1; ref <= MAX_PIPELINED + 1; ref++)
      await session.send({ type: 'GET_REQUEST', ref, ...check, haveDigest: none, path: 'file.bin' });
    await sleeping;
    // A clean end of stream, behind every request: the server reads them all first, so its loop is waiting
    // for room (not reading) when the connection closes. A reset could end the loop's read instead.
    await session.end();
    await closed;
    // Its end reported, the session may still be listed for a turn, as `ended`.
    const left = server.sessionStates().filter((state) => state.phase !== 'ended');
    assert.deepEqual(left, [], 'no session outlived its connection');
    assert.equal(server.hashCache.hashedBytes, 0, 'nothing was hashed for the client that left');
  },
);
