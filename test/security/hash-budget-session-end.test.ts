// A request waiting for its client's hashing budget when the client hangs up (stop 30). Past its burst a
// client's checks wait for as long as its debt lasts (docs/SECURITY.md "Hashing on request"), and the debt is
// the client's to make: pipelined checks of large files make it hours. The wait ignored the client's end: a
// download's check held the file it opened and its session's end waited for it, while the connection's slots
// were free again, so a client in debt could ask, hang up and repeat, each time leaving an open file. Every
// wait for the budget now ends with its operation (a download's CANCEL or its session's end) or its
// connection. Here the budget's sleep never ends on its own. Real server on loopback, raw session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { HASH_BYTES, PERMISSION_DOWNLOAD } from '../../src/protocol/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const SIZE = 64 * 1024;

test(
  'a check waiting for its client`s hashing budget ends with its session',
  { timeout: 60_000 },
  async (t) => {
    let slept: () => void = () => undefined;
    const sleeping = new Promise<void>((resolve) => (slept = resolve));
    const { dir, server } = await startTempDirServer(t, 'ferry-hash-budget-session-end-', {
      authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
      // A client already deep in debt: the wait would last for as long as it likes.
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
    // PROTOCOL.md §5.11.1: is my copy the server's? The server hashes its file to answer (paid first).
    const check = { chunkBytes: SIZE, verifyOnly: true, heldSize: 0, ranges: [] };
    const none = Buffer.alloc(HASH_BYTES);
    await session.send({ type: 'GET_REQUEST', ref: 1, ...check, haveDigest: none, path: 'file.bin' });
    await sleeping;
    session.close();
    // Without the signal the session's end waits for the download, which waits for the budget: forever here.
    await closed;
    assert.equal(server.hashCache.hashedBytes, 0, 'nothing was hashed for the client that left');
  },
);
