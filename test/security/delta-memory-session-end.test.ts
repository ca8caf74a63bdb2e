// A delta upload waiting for its client's delta memory (docs/SECURITY.md "Delta memory") when its client hangs
// up (stop 30). It waited inside the session's receive loop with the old file open, and nothing ended the
// wait: the session outlived its connection until memory came back, while the connection's slot (sessions per
// client, connections) was already free. A client holding its share could open a session, offer a delta, hang
// up and do it again, each time leaving an open file behind: the server's descriptors ran out. The wait now
// ends with the connection (SessionIo.stopped), the old file closed. Real server on loopback, raw session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { DELTA_MEMORY_PER_CLIENT_BYTES } from '../../src/server/delta-memory.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const SIZE = 64 * 1024;

test(
  'a delta upload waiting for delta memory ends with its connection, leaving no waiter',
  { timeout: 60_000 },
  async (t) => {
    const client = generateKeyPair();
    let waited: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (waited = resolve));
    const { dir, server } = await startTempDirServer(t, 'ferry-delta-memory-session-end-', {
      authorize: () => ({ permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }),
      deltaMemory: { onWait: () => waited() },
    });
    await writeFile(join(dir, 'root', 'old.bin'), Buffer.alloc(SIZE, 1));
    // The client's whole share, held as its other deltas would hold it.
    const giveBack = await server.deltaMemory.reserve(
      client.publicKey.toString('hex'),
      DELTA_MEMORY_PER_CLIENT_BYTES,
    );
    const closed = new Promise<void>((resolve) =>
      server.events.on('event', (event: { type: string }) => {
        if (event.type === 'session-closed') resolve();
      }),
    );
    const session = await openAdmittedSession(t, server.address, client);
    const file = { size: SIZE, mtimeMs: 1_700_000_000_000, chunkBytes: SIZE, mode: 0o644 };
    await session.send({
      type: 'PUT_OFFER',
      ref: 1,
      ...file,
      overwrite: true,
      fresh: false,
      delta: true,
      path: 'old.bin',
    });
    await waiting;
    session.close();
    // Without the connection's signal the session ends only once memory comes back.
    await closed;
    assert.equal(server.deltaMemory.waiting, 0, 'no waiter left behind');
    assert.equal(server.deltaMemory.heldBytes, DELTA_MEMORY_PER_CLIENT_BYTES, 'nothing taken for it');
    giveBack();
  },
);
