// Transfer ownership across servers in a real etcd 3.4 on loopback (docs/ARCHITECTURE.md, "Coordination"):
// a newer server's claim waits until the older holder stopped and let go; a holder cut off from etcd gives
// its claims up and new claims fail closed with a retryable SERVER_BUSY until etcd is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { EtcdGateway, EtcdTransferOwnership, FerryServer } from '../../src/server/index.js';
import { generateKeyPair } from '../../src/crypto/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { sendFiles } from '../../src/client/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { writeRandomFile } from '../helpers/random-file.js';
import { ERROR_CODES, FerryError } from '../../src/errors/index.js';
import { useEtcdNode } from '../helpers/etcd-node.js';

const etcd = useEtcdNode();

function server(prefix: string, ttlSeconds = 2): EtcdTransferOwnership {
  return new EtcdTransferOwnership(new EtcdGateway(etcd().endpoint), { prefix, ttlSeconds });
}

const newId = (): string => randomBytes(8).toString('hex');

test('a claim by a second server waits until the holder was told, stopped and let go', async (t) => {
  const prefix = `t-${newId()}/`;
  const a = server(prefix);
  const b = server(prefix);
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const id = newId();
  const order: string[] = [];
  let toldA!: () => void;
  const aTold = new Promise<void>((resolve) => (toldA = resolve));
  const onA = await a.acquire(id, () => {
    order.push('A told to stop');
    toldA();
  });
  order.push('A holds');
  let toldB!: () => void;
  const bTold = new Promise<void>((resolve) => (toldB = resolve));
  const onB = b
    .acquire(id, () => {
      order.push('B told to stop');
      toldB();
    })
    .then((claim) => {
      order.push('B holds');
      return claim;
    });
  await aTold;
  // A has not let go yet: B must still be waiting (it is resolved only by A's release below).
  order.push('A stopped writing');
  await onA.release();
  const claimB = await onB;
  assert.deepEqual(order, ['A holds', 'A told to stop', 'A stopped writing', 'B holds']);
  // Held by B now: A asking again is the newer claim, so B is told and A waits for B in turn.
  const again = a.acquire(id, () => undefined);
  await bTold;
  order.push('B stopped writing');
  await claimB.release();
  await (await again).release();
  assert.deepEqual(order.slice(4), ['B told to stop', 'B stopped writing']);
});

test('one server: released and claimed again at once; two transfers held side by side', async (t) => {
  const prefix = `t-${newId()}/`;
  const a = server(prefix);
  t.after(() => a.close());
  const [x, y] = [newId(), newId()];
  const first = await a.acquire(x, () => assert.fail('not taken over'));
  const other = await a.acquire(y, () => assert.fail('not taken over'));
  await first.release();
  const second = await a.acquire(x, () => assert.fail('not taken over'));
  await second.release();
  await other.release();
});

test('etcd briefly unreachable: the holder is told to stop, new claims fail closed (retryable), and work again once etcd is back', async (t) => {
  const node = etcd();
  const prefix = `t-${newId()}/`;
  const a = server(prefix, 2);
  t.after(async () => {
    await node.resume().catch(() => undefined);
    await a.close();
  });
  let lost!: () => void;
  const aLost = new Promise<void>((resolve) => (lost = resolve));
  const held = await a.acquire(newId(), lost);
  await node.pause();
  // The lease cannot be renewed: A gives the claim up (within half the TTL of the last renewal).
  await aLost;
  await assert.rejects(
    a.acquire(newId(), () => undefined),
    (err: unknown) => {
      assert.ok(err instanceof FerryError);
      assert.equal(err.code, 'SERVER_BUSY');
      assert.equal(ERROR_CODES[err.code].retryable, true);
      return true;
    },
  );
  await held.release(); // etcd is down: a no-op that must not throw
  await node.resume();
  const claim = await a.acquire(newId(), () => undefined);
  await claim.release();
});

test('a server whose etcd is unreachable refuses an upload with SERVER_BUSY (retryable), and takes it once etcd is back', async (t) => {
  const node = etcd();
  const dir = await makeTempDir('ferry-coord-down-');
  const ownership = server(`t-${newId()}/`, 2);
  const identity = generateKeyPair();
  const ferry = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    partialSweepIntervalMs: 0,
    ownership,
  });
  t.after(async () => {
    await node.resume();
    await ferry.close();
    await ownership.close();
    await removeTempDir(dir);
  });
  const source = join(dir, 'a.bin');
  await writeRandomFile(source, 256 * 1024);
  const send = (): Promise<unknown> =>
    sendFiles({
      server: ferry.address,
      files: [source],
      identity: generateKeyPair(),
      verifyServer: (key: Buffer) => assert.ok(key.equals(identity.publicKey)),
      retry: { retries: 0, random: () => 0, sleep: () => Promise.resolve() },
    });
  await node.pause();
  await assert.rejects(send(), { code: 'SERVER_BUSY' });
  await node.resume();
  await send();
});

test(
  "a claim queued behind another claim of the same transfer ends with its own connection's signal",
  { timeout: 20_000 },
  async (t) => {
    const prefix = `t-${newId()}/`;
    // The holder never lets go; with a 60 s TTL the first waiting claim waits up to 180 s for it.
    const holder = server(prefix, 60);
    const waiting = server(prefix, 60);
    t.after(async () => {
      await waiting.close();
      await holder.close();
    });
    const id = newId();
    let asked!: () => void;
    const askedToLetGo = new Promise<void>((resolve) => (asked = resolve));
    await holder.acquire(id, () => asked());
    const first = new AbortController();
    const firstClaim = waiting.acquire(id, () => undefined, undefined, first.signal);
    const firstEnded = firstClaim.then(
      () => assert.fail('the first claim took a transfer its holder never let go'),
      (err: unknown) => err,
    );
    await askedToLetGo;
    // Same server, same transfer: queued behind the first claim (one claim of a transfer at a time).
    const second = new AbortController();
    const secondClaim = waiting.acquire(id, () => undefined, undefined, second.signal);
    second.abort(new FerryError('CONNECTION_CLOSED', 'the client hung up'));
    // Without the signal on the queue the second ends only after the first: when its wait runs out (180 s).
    await assert.rejects(
      secondClaim,
      (err: unknown) => err instanceof FerryError && err.code === 'CONNECTION_CLOSED',
    );
    let firstSettled = false;
    void firstEnded.then(() => (firstSettled = true));
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(firstSettled, false, 'the first claim still waits for the holder');
    first.abort(new FerryError('CONNECTION_CLOSED', 'the client hung up'));
    assert.ok((await firstEnded) instanceof FerryError);
  },
);
