// A claim waiting for its client's coordination budget when the client hangs up (stop 30). In a cluster an
// upload's claim pays its etcd requests first, and past the client's burst it waits for as long as the
// client's debt lasts (docs/SECURITY.md "Admission in a cluster"). The wait ignored the client's end, unlike
// the delta-memory, hashing and batch-admission waits: the offer's claim, and so the session's end, waited
// out the debt after the connection had gone and its slot was free again, so a client in debt could offer,
// hang up and repeat, each time leaving a session behind. The wait now ends with the connection. Here the
// budget's sleep never ends on its own. A real FerryServer with a real etcd on loopback, raw session.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../../src/crypto/index.js';
import type { SecureChannel } from '../../src/channel/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { EtcdGateway, EtcdTransferOwnership } from '../../src/server/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { useEtcdNode } from '../helpers/etcd-node.js';
import { oneByteOffer, smallBatchEntry, SMALL_CHUNK_BYTES } from '../helpers/small-upload-messages.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const etcd = useEtcdNode();

/**
 * A server of a cluster whose client has the coordination budget of one claim (3 requests), past which the
 * budget's sleep never ends; `session` is one client's, `sleeping` resolves once a claim waits, `closed`
 * once the server ended the session.
 */
async function budgetedSession(
  t: TestContext,
): Promise<{ session: SecureChannel; sleeping: Promise<void>; closed: Promise<void> }> {
  const ownership = new EtcdTransferOwnership(new EtcdGateway(etcd().endpoint), {
    prefix: `coordination-end-${randomBytes(4).toString('hex')}/`,
    ttlSeconds: 5,
  });
  let slept: () => void = () => undefined;
  const sleeping = new Promise<void>((resolve) => (slept = resolve));
  const { server } = await startTempDirServer(t, 'ferry-coordination-session-end-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    ownership,
    coordinationBudget: {
      requestsBurst: 3,
      requestsPerSecond: 1,
      now: () => 0,
      sleep: () => {
        slept();
        return new Promise<void>(() => undefined);
      },
    },
  });
  // After the server's close (hooks run in the order they were added).
  t.after(() => ownership.close());
  const closed = new Promise<void>((resolve) =>
    server.events.on('event', (event: { type: string }) => {
      if (event.type === 'session-closed') resolve();
    }),
  );
  const session = await openAdmittedSession(t, server.address, generateKeyPair());
  return { session, sleeping, closed };
}

test(
  'an offer`s claim waiting for its client`s coordination budget ends with its connection',
  { timeout: 60_000 },
  async (t) => {
    const { session, sleeping, closed } = await budgetedSession(t);
    await session.send(oneByteOffer(1, 'file-1.bin'));
    const first = await session.receive();
    assert.equal(first.type, 'PUT_ACCEPT', JSON.stringify(first));
    // End this upload (§5.9) so the next offer is the next claim.
    await session.send({ type: 'CANCEL', ref: 1 });
    await session.send(oneByteOffer(2, 'file-2.bin'));
    await sleeping;
    session.close();
    // Without the signal the session's end waits for the offer, which waits for the budget: forever here.
    await closed;
  },
);

test(
  'a batch entry`s claim waiting for its client`s coordination budget ends with its connection',
  { timeout: 60_000 },
  async (t) => {
    const { session, sleeping, closed } = await budgetedSession(t);
    // The first entry's claim is paid by the burst, the second's waits (PROTOCOL.md §5.14).
    const entries = [smallBatchEntry('a.txt'), smallBatchEntry('b.txt')];
    await session.send({
      type: 'PUT_BATCH',
      ref: 1,
      overwrite: false,
      chunkBytes: SMALL_CHUNK_BYTES,
      entries,
    });
    await session.send({ type: 'BATCH_END', ref: 1, totalEntries: entries.length });
    await sleeping;
    session.close();
    await closed;
  },
);
