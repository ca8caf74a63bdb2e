// Stop 42: a session's object-store requests end with it. Its waits for a budget already ended with the
// session (DownloadQueue.endWith), but the store requests themselves took no signal: a store that stopped
// answering (the SDK sets no request timeout) held a download's HEAD, an upload's PUT or a listing's LIST, the
// session and, past close's grace, a session left behind, for as long as the TCP connection stayed up. They
// now carry the session's (or the download's) signal as the SDK's `abortSignal`. Real Swift node through a
// real proxy that black-holes the one request under test; a raw client session. Stop 43: the rest of a
// session's requests (a removal's, SET_ATTRIBUTES', an offer's HEAD, a batch's) still took none; a session now
// reaches the store only through its view (SessionIo.objectStore), every request carrying its signal.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HASH_BYTES, chunkHashOf, fileDigest, type Message } from '../../src/protocol/index.js';
import type { FerryServer } from '../../src/server/index.js';
import { openAdmittedSession } from '../helpers/admitted-session.js';
import { FaultProxy, type ProxiedConnection } from '../helpers/fault-proxy.js';
import { S3PartialStore, type SelfCopyLimits } from '../../src/objectstore/index.js';
import { serveObjectStore } from '../helpers/object-store-server.js';
import { RawUpload } from '../helpers/raw-upload.js';
import { useSwiftNode } from '../helpers/swift-node.js';
import { withinDeadline } from '../helpers/within-deadline.js';

const s = useSwiftNode();
const SIZE = 64 * 1024;
/** Far below a stalled request's lifetime (for ever), far above a session's end on loopback (milliseconds). */
const DEADLINE_MS = 5_000;
/** A download of the file each test stores first. */
const GET: Message = {
  type: 'GET_REQUEST',
  ref: 1,
  path: 'file.bin',
  chunkBytes: SIZE,
  verifyOnly: false,
  heldSize: 0,
  ranges: [],
  haveDigest: Buffer.alloc(HASH_BYTES),
};

/**
 * A server whose object store is the Swift node behind a proxy that stalls the first request of `command`
 * (after its first byte, so the store has seen it begin) and forwards every other; one request per
 * connection (no keep-alive), so a connection is a request. `stalled` resolves with the stalled connection
 * once its first byte crossed.
 */
async function stallingServer(
  t: TestContext,
  command: string,
  request: Message | readonly Message[] = GET,
  selfCopy?: SelfCopyLimits,
): Promise<{
  server: FerryServer;
  session: Awaited<ReturnType<typeof openAdmittedSession>>;
  stalled: Promise<ProxiedConnection>;
}> {
  const { node, bucket } = s();
  const sent: string[] = [];
  let stalledAt: (index: number) => void = () => undefined;
  const stalledIndex = new Promise<number>((resolve) => (stalledAt = resolve));
  const endpoint = new URL(node.endpoint);
  const proxy = await FaultProxy.start({
    target: { host: endpoint.hostname, port: Number(endpoint.port) },
    // A request's name is recorded before it dials (finalizeRequest), so connection i carries sent[i].
    plan: (index) => {
      if (sent[index] !== command || sent.indexOf(command) !== index) return undefined;
      stalledAt(index);
      return { stall: { afterBytes: 1 } };
    },
  });
  t.after(() => proxy.close());
  const client = new S3Client({
    endpoint: `http://${proxy.addressText}`,
    region: node.region,
    forcePathStyle: true,
    credentials: { accessKeyId: node.accessKeyId, secretAccessKey: node.secretAccessKey },
    requestHandler: { httpAgent: new Agent({ keepAlive: false }) },
  });
  t.after(() => client.destroy());
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(context.commandName ?? 'unnamed');
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordRequests' },
  );
  const prefix = `${command}-${Date.now()}/`;
  await s().client.send(
    new PutObjectCommand({ Bucket: bucket, Key: `${prefix}file.bin`, Body: Buffer.alloc(SIZE, 7) }),
  );
  const store = new S3PartialStore(client, { bucket, prefix }, selfCopy ? { selfCopy } : {});
  const { server, key } = await serveObjectStore(t, s(), prefix, { objectStore: store });
  const session = await openAdmittedSession(t, server.address, key);
  for (const message of Array.isArray(request) ? request : [request]) await session.send(message);
  const stalled = stalledIndex.then(async (index) => {
    const connection = await proxy.connection(index);
    await connection.waitForBytes('clientToServer', 1);
    return connection;
  });
  return { server, session, stalled };
}

function sessionClosed(server: FerryServer): Promise<void> {
  return new Promise<void>((resolve) =>
    server.events.on('event', (event: { type: string }) => {
      if (event.type === 'session-closed') resolve();
    }),
  );
}

const SMALL = Buffer.alloc(100, 5);
/** One small file of a batch, new to the store. */
const SMALL_ENTRY = {
  size: SMALL.length,
  mtimeMs: 1_000,
  mode: 0o644,
  fileDigest: fileDigest(SMALL.length, SIZE, [chunkHashOf(SMALL)]),
  path: 'small.bin',
  data: SMALL,
};

// Each kind of request a session waits on: a download's source (HEAD, ranged GETs), an upload's partial
// (OpenPartialOptions.signal; its first PUT is the state object, written as the offer opens it, keepLog: two
// chunks, while the receive loop waits), a listing (listFiles; statFile and assertPlaceable take it too).
const HANG_UPS: ReadonlyArray<{
  name: string;
  command: string;
  what: string;
  request: Message | readonly Message[];
  selfCopy?: SelfCopyLimits;
}> = [
  { name: 'a download whose HEAD', command: 'HeadObjectCommand', what: 'HEAD', request: GET },
  { name: 'a download whose ranged GET', command: 'GetObjectCommand', what: 'ranged GET', request: GET },
  {
    name: 'an upload whose partial`s state PUT',
    command: 'PutObjectCommand',
    what: 'partial`s PUT',
    request: new RawUpload(Buffer.alloc(2 * SIZE, 3), SIZE, 'up.bin').offer(1),
  },
  {
    name: 'a listing whose LIST',
    command: 'ListObjectsV2Command',
    what: 'LIST',
    request: { type: 'LIST_REQUEST', ref: 1, path: '', recursive: true, selfOnly: false, namesOnly: true },
  },
  // Stop 43: these took no signal at all (the session's store view, SessionIo.objectStore, now gives it).
  {
    name: 'a removal whose DELETE',
    command: 'DeleteObjectCommand',
    what: 'DELETE',
    request: { type: 'REMOVE_REQUEST', ref: 1, path: 'file.bin' },
  },
  {
    name: 'a SET_ATTRIBUTES whose copy',
    command: 'CopyObjectCommand',
    what: 'self-copy',
    request: { type: 'SET_ATTRIBUTES', ref: 1, mode: 0o600, mtimeMs: 1_000, path: 'file.bin' },
  },
  {
    // Copied in parts above its copy limit (S3's 5 GiB; 1 byte here): one part, the last, may be small.
    name: 'a SET_ATTRIBUTES whose part copy',
    command: 'UploadPartCopyCommand',
    what: 'part copy',
    request: { type: 'SET_ATTRIBUTES', ref: 1, mode: 0o600, mtimeMs: 1_000, path: 'file.bin' },
    selfCopy: { copyLimitBytes: 1, partBytes: SIZE },
  },
  {
    // The LIST below the name goes first (assertPlaceable), then the HEAD of whether the object exists.
    name: 'an upload whose HEAD of its object',
    command: 'HeadObjectCommand',
    what: 'HEAD',
    request: new RawUpload(Buffer.alloc(2 * SIZE, 3), SIZE, 'up.bin').offer(1),
  },
  {
    // Its entry's open at the batch's end reads the partial's state first (a fresh open removes it).
    name: 'a batch whose entry`s open',
    command: 'GetObjectCommand',
    what: 'partial`s GET',
    request: [
      { type: 'PUT_BATCH', ref: 1, overwrite: false, chunkBytes: SIZE, entries: [SMALL_ENTRY] },
      { type: 'BATCH_END', ref: 1, totalEntries: 1 },
    ],
  },
];
for (const { name, command, what, request, selfCopy } of HANG_UPS)
  test(
    `${name} is stalled ends with its client's hang-up, the request aborted`,
    { timeout: 60_000 },
    async (t) => {
      const { server, session, stalled } = await stallingServer(t, command, request, selfCopy);
      const connection = await stalled;
      const closed = sessionClosed(server);
      session.close();
      await withinDeadline(closed, DEADLINE_MS, `the session waited for its ${what}, stalled at the store`);
      await withinDeadline(connection.clientClosed, DEADLINE_MS, `its ${what} was left in flight`);
      assert.deepEqual(server.sessionStates(), [], 'no session left');
    },
  );

test(
  'close ends a session whose download`s HEAD is stalled within its grace, the HEAD aborted',
  { timeout: 60_000 },
  async (t) => {
    const { server, stalled } = await stallingServer(t, 'HeadObjectCommand');
    const connection = await stalled;
    // Without the signal close resolves at its grace with the session named as left (s42/close).
    await withinDeadline(server.close({ graceMs: 30_000 }), DEADLINE_MS, 'close waited for the stalled HEAD');
    assert.deepEqual(server.sessionStates(), [], 'no session left');
    await withinDeadline(connection.clientClosed, DEADLINE_MS, 'the HEAD was left in flight');
  },
);

// Stop 44: the partial sweeper's requests belong to no session, and took no signal: a LIST the store (or a
// path to it that black-holes) never answers held its sweep for as long as the connection lived, past the
// server's close, and the hourly timer started another beside it each hour, each holding a connection.
test(
  'close drops a partial sweep whose LIST is stalled, the LIST aborted',
  { timeout: 60_000 },
  async (t) => {
    const { server, stalled } = await stallingServer(t, 'ListObjectsV2Command', []);
    const sweep = server.sweepPartials();
    sweep.catch(() => undefined);
    const connection = await stalled;
    await withinDeadline(server.close({ graceMs: 30_000 }), DEADLINE_MS, 'close');
    await withinDeadline(connection.clientClosed, DEADLINE_MS, 'the sweep`s LIST was left in flight');
    await assert.rejects(withinDeadline(sweep, DEADLINE_MS, 'the sweep waited on for ever'), /abort/i);
  },
);
