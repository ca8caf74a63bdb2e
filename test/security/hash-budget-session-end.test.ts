// A request waiting for its client's hashing budget when the client hangs up (stop 30). Past its burst a
// client's checks wait for as long as its debt lasts (docs/SECURITY.md "Hashing on request"), and the debt is
// the client's to make: pipelined checks of large files make it hours. The wait ignored the client's end: a
// download's check held the file it opened and its session's end waited for it, while the connection's slots
// were free again, so a client in debt could ask, hang up and repeat, each time leaving an open file. Every
// wait for the budget now ends with its operation (a download's CANCEL or its session's end) or its
// connection. Here the budget's sleep never ends on its own. Real server on loopback, raw session.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  HASH_BYTES,
  LEAF_BYTES,
  MAX_PIPELINED,
  PERMISSION_DOWNLOAD,
  type GetRequestMessage,
} from '../../src/protocol/index.js';
import type { FerryServer, ServerObjectStore } from '../../src/server/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const SIZE = 64 * 1024;
/** PROTOCOL.md §5.11.1: is my copy the server's? The server hashes its file to answer (paid first). */
const CHECK: Omit<GetRequestMessage, 'ref'> = {
  type: 'GET_REQUEST',
  chunkBytes: SIZE,
  verifyOnly: true,
  heldSize: 0,
  ranges: [],
  haveDigest: Buffer.alloc(HASH_BYTES),
  path: 'file.bin',
};

/** A wait that never ends on its own, and the promise that resolves once something waits on it. */
function endlessSleep(): { sleep: () => Promise<void>; sleeping: Promise<void> } {
  let slept: () => void = () => undefined;
  const sleeping = new Promise<void>((resolve) => (slept = resolve));
  return {
    sleep: () => {
      slept();
      return new Promise<void>(() => undefined);
    },
    sleeping,
  };
}

/**
 * A server whose client is already deep in debt (the wait would last for as long as it likes) for its
 * hashing, or with an object store for its store requests, and a file to get; `sleeping` resolves once a
 * request waits for the budget, `closed` once a session ended.
 */
async function indebtedServer(
  t: TestContext,
  budget: 'hashing' | 'store requests' = 'hashing',
): Promise<{ server: FerryServer; sleeping: Promise<void>; closed: Promise<void> }> {
  const { sleep, sleeping } = endlessSleep();
  const { dir, server } = await startTempDirServer(t, 'ferry-hash-budget-session-end-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    ...(budget === 'hashing'
      ? { hashBudget: { burstBytes: 1, bytesPerSecond: 1, sleep } }
      : { storeHeads: { perClientBurst: 0, perClientPerSecond: 1, sleep }, objectStore: unreachedStore() }),
  });
  await writeFile(join(dir, 'root', 'file.bin'), Buffer.alloc(SIZE, 1));
  const closed = new Promise<void>((resolve) =>
    server.events.on('event', (event: { type: string }) => {
      if (event.type === 'session-closed') resolve();
    }),
  );
  return { server, sleeping, closed };
}

/**
 * An object store no request reaches: a GET_REQUEST pays for its HEAD before it goes (STORE_REQUESTS.open),
 * and the payment never ends here. Anything asked of it fails the test.
 */
function unreachedStore(): ServerObjectStore {
  const asked = (what: string) => () => assert.fail(`the object store was asked to ${what} while unpaid`);
  const store: ServerObjectStore = {
    withSignal: () => store,
    targetOf: (path) => path,
    list: () => Promise.resolve([]),
    open: asked('open a partial'),
    inspect: asked('inspect a partial'),
    remove: asked('remove a partial'),
    exists: asked('HEAD a target'),
    assertPlaceable: asked('check a placement'),
    statFile: asked('stat'),
    listFiles: asked('list'),
    removeEntry: asked('remove'),
    removeBelow: asked('remove a tree'),
    setAttributes: asked('set attributes'),
    openSource: asked('HEAD a file to send'),
    openObject: asked('open an object'),
  };
  return store;
}

test(
  'a check waiting for its client`s hashing budget ends with its session',
  { timeout: 60_000 },
  async (t) => {
    const { server, sleeping, closed } = await indebtedServer(t);
    const session = await openAdmittedSession(t, server.address, generateKeyPair());
    await session.send({ ...CHECK, ref: 1 });
    await sleeping;
    session.close();
    // Without the signal the session's end waits for the download, which waits for the budget: forever here.
    await closed;
    assert.equal(server.hashCache.hashedBytes, 0, 'nothing was hashed for the client that left');
  },
);

// Stop 42: each download's wait ended with the download's own signal (a CANCEL, or the session's end), and
// the session ends once its receive loop sees the connection close; with MAX_PIPELINED downloads queued the
// loop waits for room among them instead of reading, so nothing ended the waits (the session, its open file
// and its slot stayed for as long as the debt lasted). The queue's downloads now stop with the connection.
// Checks, and SIGNATURE requests (§5.17.1: a delta download's first step, its signing paid as hashing before
// anything is read or hashed).
const PIPELINED: Record<string, { request: Omit<GetRequestMessage, 'ref'>; budget?: 'store requests' }> = {
  checks: { request: CHECK },
  signatures: {
    request: { ...CHECK, verifyOnly: false, chunkBytes: LEAF_BYTES, signature: true },
  },
  // A download from an object store pays for its HEAD first (StoreHeads, docs/SECURITY.md "Object store").
  'object-store downloads': {
    request: { ...CHECK, verifyOnly: false },
    budget: 'store requests',
  },
};
for (const [kind, { request, budget }] of Object.entries(PIPELINED))
  test(
    `${kind} filling the pipeline while they wait for their budget end with their connection`,
    { timeout: 60_000 },
    async (t) => {
      const { server, sleeping, closed } = await indebtedServer(t, budget);
      const session = await openAdmittedSession(t, server.address, generateKeyPair());
      // One more than the pipeline's bound, so the receive loop waits for room instead of reading.
      for (let ref = 1; ref <= MAX_PIPELINED + 1; ref++) await session.send({ ...request, ref });
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
