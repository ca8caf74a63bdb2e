// A listing of an object store with files' attributes costs one HEAD per file (S3's LIST carries no user
// metadata), so one LIST_REQUEST could make up to MAX_LIST_ENTRIES (a million) requests to the store, and
// clients under many keys as many again each. Now a listing makes at most MAX_LISTING_HEADS (FILE_TOO_LARGE
// before the page that would pass it; NAMES_ONLY lists any tree), and its HEADs are paid from a budget per
// client and one shared by all clients, where a listing waits (docs/SECURITY.md "Object store"). So are the
// HEADs of a batched download's entries (GET_BATCH, PROTOCOL.md §5.20): 512 paths of nothing were 512 store
// requests for a request of a few KiB, unpaid; and every request's own look at the object it names
// (GET_REQUEST, LIST_REQUEST, REMOVE_REQUEST, SET_ATTRIBUTES, PUT_OFFER), one to three store requests each for
// a request of a few bytes, was unpaid until stop 27. Against a real Swift; every HEAD on the wire counted by the
// store client's middleware.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { generateKeyPair, type KeyPair } from '../../src/crypto/index.js';
import { ERROR_CODES } from '../../src/errors/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import { FerryServer, type ServeOptions } from '../../src/server/index.js';
import { S3PartialStore } from '../../src/objectstore/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { countingClient, useSwiftNode } from '../helpers/swift-node.js';
import { STORE_REQUESTS } from '../../src/server/store-heads.js';

const swift = useSwiftNode();
const FILES = 5;

/** A server on a store holding FILES objects under `t/`, its clients, and the HEADs its store client sent. */
async function start(
  t: import('node:test').TestContext,
  prefix: string,
  storeHeads: ServeOptions['storeHeads'],
): Promise<{ server: FerryServer; heads: () => number; clients: KeyPair[] }> {
  const s = swift();
  for (let i = 0; i < FILES; i++)
    await s.client.send(new PutObjectCommand({ Bucket: s.bucket, Key: `${prefix}t/f${i}`, Body: `${i}\n` }));
  const { client, counts } = countingClient(s);
  const dir = await makeTempDir('ferry-listing-heads-');
  const clients = [generateKeyPair(), generateKeyPair()];
  const server = await FerryServer.start({
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    authorize: (key) =>
      clients.some((c) => c.publicKey.equals(key))
        ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD }
        : undefined,
    partialSweepIntervalMs: 0,
    objectStore: new S3PartialStore(client, { bucket: s.bucket, prefix }),
    storeHeads,
  });
  t.after(async () => {
    await server.close();
    await removeTempDir(dir);
  });
  return { server, heads: () => counts.get('HeadObjectCommand') ?? 0, clients };
}

/** Lists `t` recursively on a fresh session of `client`: the entries' count, or the ERROR's code name. */
async function list(
  t: import('node:test').TestContext,
  server: FerryServer,
  client: KeyPair,
  namesOnly: boolean,
): Promise<number | string> {
  const session = await openAdmittedSession(t, server.address, client);
  await session.send({
    type: 'LIST_REQUEST',
    ref: 1,
    path: 't',
    recursive: true,
    namesOnly,
    selfOnly: false,
  });
  let entries = 0;
  for (;;) {
    const message = await session.receive();
    if (message.type === 'LIST_ENTRIES') entries += message.entries.length;
    else if (message.type === 'LIST_END') return entries;
    else if (message.type === 'ERROR')
      return Object.entries(ERROR_CODES).find(([, c]) => c.wire === message.code)?.[0] ?? 'ERROR';
  }
}

test('an object-store listing with attributes of more files than its HEAD bound is refused before those HEADs; names only lists it', async (t) => {
  const { server, heads, clients } = await start(t, 'heads-per-request/', { maxPerListing: FILES - 2 });
  assert.equal(await list(t, server, clients[0]!, false), 'FILE_TOO_LARGE');
  assert.ok(heads() <= FILES - 2, `${heads()} HEADs for one listing, bound ${FILES - 2}`);
  assert.equal(await list(t, server, clients[0]!, true), FILES);
  assert.ok(heads() <= FILES - 2, 'names only sends no HEAD');
});

test('object-store listings of two client keys pay their HEADs from the budget they share: past its burst the second waits, though its own budget is full', async (t) => {
  let clock = 1_000_000;
  const waits: number[] = [];
  const { server, heads, clients } = await start(t, 'heads-total/', {
    perClientPerSecond: 100,
    perClientBurst: 100,
    totalPerSecond: 1,
    // A listing pays its stat of `t` (STORE_REQUESTS.stat) and a HEAD per file.
    totalBurst: FILES + STORE_REQUESTS.stat + 1 + STORE_REQUESTS.stat,
    now: () => clock,
    sleep: (ms) => {
      waits.push(ms);
      clock += ms;
      return Promise.resolve();
    },
  });
  assert.equal(await list(t, server, clients[0]!, false), FILES);
  assert.deepEqual(waits, [], 'the first listing fits the shared burst');
  assert.equal(await list(t, server, clients[1]!, false), FILES);
  // The second's stat and one HEAD left of the shared burst, FILES needed at one per second.
  assert.deepEqual(waits, [(FILES - 1) * 1000]);
  // A HEAD per file of each listing, and one each for the stat of `t` (no object of that name).
  assert.equal(heads(), 2 * FILES + 2);
});

test('a GET_BATCH of paths with nothing there on an object store pays a HEAD per entry from the client`s budget before it goes', async (t) => {
  let clock = 1_000_000;
  const waits: number[] = [];
  const { server, heads, clients } = await start(t, 'heads-get-batch/', {
    perClientPerSecond: 10,
    perClientBurst: 10,
    now: () => clock,
    sleep: (ms) => {
      waits.push(ms);
      clock += ms;
      return Promise.resolve();
    },
  });
  const session = await openAdmittedSession(t, server.address, clients[0]!);
  const paths = Array.from({ length: 30 }, (_, i) => `missing-${i}`);
  await session.send({ type: 'GET_BATCH', ref: 1, paths });
  let answered = 0;
  while (answered < paths.length) {
    const message = await session.receive();
    assert.equal(message.type, 'GET_BATCH_DATA');
    if (message.type !== 'GET_BATCH_DATA') return;
    for (const entry of message.entries) assert.equal(entry.status, 'refused');
    answered += message.entries.length;
  }
  // Ten HEADs in the burst, then one every 100 ms for the other twenty.
  assert.equal(waits.length, 20);
  assert.equal(
    waits.reduce((a, b) => a + b, 0),
    2000,
  );
  assert.equal(heads(), paths.length);
});

test('GET_REQUESTs, LIST_REQUESTs, REMOVE_REQUESTs, SET_ATTRIBUTES and PUT_OFFERs of nothing on an object store pay their store requests from the client`s budget before they go', async (t) => {
  let clock = 1_000_000;
  const waits: number[] = [];
  const { server, heads, clients } = await start(t, 'heads-per-request-kind/', {
    perClientPerSecond: 10,
    perClientBurst: 10,
    now: () => clock,
    sleep: (ms) => {
      waits.push(ms);
      clock += ms;
      return Promise.resolve();
    },
  });
  const session = await openAdmittedSession(t, server.address, clients[0]!);
  const REQUESTS = 15;
  const costs: Record<string, number> = {
    GET_REQUEST: STORE_REQUESTS.open,
    LIST_REQUEST: STORE_REQUESTS.stat,
    REMOVE_REQUEST: STORE_REQUESTS.remove,
    SET_ATTRIBUTES: STORE_REQUESTS.attributes,
    // The HEAD of the object it would replace, and the shape check's LIST of keys below the name (stop 34;
    // no directory above a top-level name to HEAD).
    PUT_OFFER: STORE_REQUESTS.open + 1,
  };
  let spent = 0;
  let ref = 1;
  for (const kind of Object.keys(costs)) {
    for (let i = 0; i < REQUESTS; i++, ref++) {
      const path = `missing-${ref}`;
      if (kind === 'GET_REQUEST')
        await session.send({
          type: 'GET_REQUEST',
          ref,
          chunkBytes: 1 << 20,
          verifyOnly: false,
          heldSize: 0,
          haveDigest: Buffer.alloc(32),
          ranges: [],
          path,
        });
      else if (kind === 'LIST_REQUEST')
        await session.send({
          type: 'LIST_REQUEST',
          ref,
          path,
          recursive: true,
          namesOnly: false,
          selfOnly: false,
        });
      else if (kind === 'REMOVE_REQUEST') await session.send({ type: 'REMOVE_REQUEST', ref, path });
      else if (kind === 'SET_ATTRIBUTES')
        await session.send({ type: 'SET_ATTRIBUTES', ref, mode: 0o644, mtimeMs: 0, path });
      else
        await session.send({
          type: 'PUT_OFFER',
          ref,
          size: 1,
          mtimeMs: 0,
          chunkBytes: 1 << 20,
          mode: 0o644,
          overwrite: false,
          fresh: false,
          path,
        });
      const answer = await session.receive();
      if (kind === 'PUT_OFFER') {
        assert.equal(answer.type, 'PUT_ACCEPT', kind);
        await session.send({ type: 'CANCEL', ref });
      } else if (kind === 'REMOVE_REQUEST') assert.equal(answer.type, 'ACK', kind);
      else assert.equal(answer.type, 'ERROR', kind);
      spent += costs[kind]!;
    }
    // Ten in the burst, then each at 10 per second: every request of every kind so far paid its own.
    const waited = waits.reduce((a, b) => a + b, 0);
    assert.equal(waited, Math.max(0, spent - 10) * 100, `after the ${kind}s`);
  }
  assert.ok(heads() > 0);
});
