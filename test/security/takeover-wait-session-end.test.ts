// A claim waiting for another server of the cluster to let a transfer go, when its client hangs up (stop 31).
// An offer of a file another server holds asks that server to let go (a takeover request in etcd) and waits
// for its release, re-asking every lease TTL, for up to three TTLs (`EtcdTransferOwnership.acquire`). The wait
// ignored the client's end, unlike the budget, delta-memory, hashing and batch-admission waits: the session
// stayed until the holder let go or the wait ran out, and its request went on asking the holder to stop
// writing for a client that was gone. The wait now ends with the connection and withdraws the request. A real
// FerryServer and a real etcd on loopback, raw session; the other server is a claim held in the same etcd by
// a second EtcdTransferOwnership that never lets go, and the waiting server's TTL is 60 s, so without the fix
// the session outlives the test's timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { EtcdGateway, EtcdTransferOwnership } from '../../src/server/index.js';
import { transferIdOf } from '../../src/server/transfer-id.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { useEtcdNode } from '../helpers/etcd-node.js';
import { oneByteOffer } from '../helpers/small-upload-messages.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';

const etcd = useEtcdNode();
const PATH = 'held-elsewhere.bin';

test(
  "an offer's wait for another server's release ends with its connection, and its request is withdrawn",
  { timeout: 40_000 },
  async (t) => {
    const prefix = `takeover-end-${randomBytes(4).toString('hex')}/`;
    const gateway = new EtcdGateway(etcd().endpoint);
    const client = generateKeyPair();
    const transferId = transferIdOf(client.publicKey, PATH);
    // The other server: holds the transfer and never lets go (a server stuck writing it).
    const other = new EtcdTransferOwnership(new EtcdGateway(etcd().endpoint), { prefix, ttlSeconds: 60 });
    let asked!: () => void;
    const askedToLetGo = new Promise<void>((resolve) => (asked = resolve));
    await other.acquire(transferId, () => asked());
    const ownership = new EtcdTransferOwnership(new EtcdGateway(etcd().endpoint), { prefix, ttlSeconds: 60 });
    const { server } = await startTempDirServer(t, 'ferry-takeover-end-', {
      authorize: () => ({ permissions: PERMISSION_UPLOAD }),
      ownership,
    });
    // After the server's close (hooks run in the order they were added).
    t.after(() => Promise.all([ownership.close(), other.close()]));
    const closed = new Promise<void>((resolve) =>
      server.events.on('event', (event: { type: string }) => {
        if (event.type === 'session-closed') resolve();
      }),
    );
    const session = await openAdmittedSession(t, server.address, client);
    await session.send(oneByteOffer(1, PATH));
    const answered = session.receive().then(
      (m) => assert.fail(`the offer was answered while another server holds it: ${JSON.stringify(m)}`),
      () => undefined,
    );
    await askedToLetGo;
    const request = `${prefix}takeover/${transferId}`;
    assert.equal((await gateway.range(request)).kvs.length, 1, 'the takeover request is in etcd');
    session.close();
    // Without the signal the session's end waits for the claim: for three TTLs (180 s) here.
    await closed;
    await answered;
    assert.equal((await gateway.range(request)).kvs.length, 0, 'the takeover request was withdrawn');
  },
);
