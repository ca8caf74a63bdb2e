// A server busy for its client keeps the session alive with KEEPALIVE (PROTOCOL.md §5.18, issue 15): a resume
// whose held chunks are re-hashed slowly and a finish that places the file slowly both outlast a client whose
// stall watchdog is far shorter, and the transfer completes on the one session; a server that stays silent
// still trips the watchdog. Real TCP on loopback through the fault proxy, real files; the slowness is a
// storage-port wrapper that holds reads or finishes until the test releases them. Nothing sleeps: the test
// waits for KEEPALIVE records counted on the wire, and each one is at least KEEPALIVE_MS after the last, so
// STALL_MS has passed once enough went by.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serverPartialStore } from '../../src/server/index.js';
import {
  getFiles,
  sendFiles,
  type GetEvent,
  type SendEvent,
  type SendFilesOptions,
} from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type {
  ChunkEntry,
  InspectedPartial,
  OpenPartialOptions,
  PartialStore,
  RootPath,
  StoredPartial,
  TransferHeader,
} from '../../src/transfer/index.js';
import { isFerryError } from '../../src/errors/index.js';
import { FaultProxy, type PlanFor } from '../helpers/fault-proxy.js';
import { startProxiedServer } from '../helpers/proxied-server.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';
import { bytePattern } from '../helpers/byte-pattern.js';

const CHUNK_BYTES = 64 * 1024;
/** 16 whole chunks and a short one: a cut at half leaves several durable chunks to re-hash. */
const FILE_BYTES = 16 * CHUNK_BYTES + 1000;
const STALL_MS = 1000;
const KEEPALIVE_MS = 100;
/** KEEPALIVEs to wait for while the server is held: at least 2 s, twice the client's stall timeout. */
const KEEPALIVES_OUTLASTING_THE_STALL = (2 * STALL_MS) / KEEPALIVE_MS;

/** A door operations of one kind wait at while it is shut; the test shuts it and opens it. */
class Door {
  #shut = false;
  #parked: Array<() => void> = [];
  #arrivals: Array<() => void> = [];

  shut(): void {
    this.#shut = true;
  }

  open(): void {
    this.#shut = false;
    for (const go of this.#parked.splice(0)) go();
  }

  /** Resolves once an operation waits at the shut door. */
  reached(): Promise<void> {
    if (this.#parked.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#arrivals.push(resolve));
  }

  async pass(): Promise<void> {
    if (!this.#shut) return;
    const parked = new Promise<void>((resolve) => this.#parked.push(resolve));
    for (const arrived of this.#arrivals.splice(0)) arrived();
    await parked;
  }
}

/** The server's partial store with doors before its reads (held-chunk re-hashing) and its finishes. */
class SlowPartialStore implements PartialStore<string, RootPath> {
  readonly reads = new Door();
  readonly finishes = new Door();
  readonly #inner: PartialStore<string, RootPath>;

  constructor(inner: PartialStore<string, RootPath>) {
    this.#inner = inner;
  }

  async open(
    key: string,
    header: TransferHeader,
    options: OpenPartialOptions,
  ): Promise<StoredPartial<RootPath>> {
    const inner = await this.#inner.open(key, header, options);
    const { reads, finishes } = this;
    return {
      restarted: inner.restarted,
      resumed: inner.resumed,
      logged: inner.logged,
      // Re-hashed as after a crash, so the held chunks are read through the door (PROTOCOL.md §9.2).
      unchangedSinceClose: false,
      read: async (offset: number, into: Buffer) => {
        await reads.pass();
        return inner.read(offset, into);
      },
      write: (offset: number, data: Buffer) => inner.write(offset, data),
      flushWrites: () => inner.flushWrites(),
      makeDurable: (entries: readonly ChunkEntry[]) => inner.makeDurable(entries),
      resetLog: (entries: readonly ChunkEntry[]) => inner.resetLog(entries),
      finish: async (target, finishOptions) => {
        await finishes.pass();
        return inner.finish(target, finishOptions);
      },
      close: () => inner.close(),
      abort: () => inner.abort(),
    };
  }

  inspect(key: string): Promise<InspectedPartial | undefined> {
    return this.#inner.inspect(key);
  }
}

interface Rig {
  store: SlowPartialStore;
  proxy: FaultProxy;
  sourceSha: string;
  finalPath: string;
  options(overrides?: Partial<SendFilesOptions>): SendFilesOptions;
  /** Waits until every session that reached the server so far has been closed by it. */
  serverCaughtUp(): Promise<void>;
}

async function rig(t: TestContext, keepaliveMs: number, plan?: PlanFor): Promise<Rig> {
  let store: SlowPartialStore | undefined;
  // Added before the rig's own: whatever a test left shut is opened before the server closes, so its close
  // never waits on the door.
  t.after(() => {
    store?.reads.open();
    store?.finishes.open();
  });
  const r = await startProxiedServer(t, 'ferry-keepalive-', {
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    durableBatchBytes: CHUNK_BYTES,
    keepaliveMs,
    partialStore: (partialDir) => (store = new SlowPartialStore(serverPartialStore(partialDir))),
    retries: 0,
    plan,
  });
  const source = join(r.dir, 'payload.bin');
  const sourceSha = await writeRandomFile(source, FILE_BYTES);
  assert.ok(store, 'the server built its partial store');
  return {
    store,
    proxy: r.proxy,
    sourceSha,
    finalPath: join(r.root, 'payload.bin'),
    options: (overrides = {}) => ({
      ...r.connect,
      files: [source],
      chunkBytes: CHUNK_BYTES,
      stallTimeoutMs: STALL_MS,
      ...overrides,
    }),
    serverCaughtUp: async () => {
      await Promise.all(r.proxy.connections.map((c) => c.closed));
    },
  };
}

/**
 * Waits for `count` more records from the server on `connection` than it has sent so far, or fails with what
 * ended `operation` first (STALLED, when nothing kept the session alive).
 */
async function moreServerRecords(
  proxy: FaultProxy,
  connection: number,
  count: number,
  operation: Promise<unknown>,
): Promise<void> {
  const proxied = proxy.connections[connection]!;
  await Promise.race([
    proxied.waitForFrames('serverToClient', proxied.frames.serverToClient + count),
    operation.then(() => assert.fail('the operation ended while the server was still held')),
  ]);
}

function eventsOf<T extends SendEvent['type']>(
  events: SendEvent[],
  type: T,
): Extract<SendEvent, { type: T }>[] {
  return events.filter((e): e is Extract<SendEvent, { type: T }> => e.type === type);
}

test('a resume whose held chunks are re-hashed slowly keeps a client with a 1 s stall timeout connected (KEEPALIVE)', async (t) => {
  const r = await rig(t, KEEPALIVE_MS, (i) =>
    i === 0 ? { cut: { afterBytes: Math.floor(FILE_BYTES / 2) } } : undefined,
  );
  const events: SendEvent[] = [];
  const sent = sendFiles(
    r.options({
      onEvent: (event) => events.push(event),
      // The cut is the one failure allowed; a stall on the resumed session would be a second.
      retry: {
        retries: 1,
        random: () => 0,
        sleep: async () => {
          await r.serverCaughtUp();
          r.store.reads.shut();
        },
      },
    }),
  );
  sent.catch(() => undefined);
  await r.store.reads.reached();
  // The resumed session's server re-hashes its held chunks before PUT_ACCEPT, silent but for KEEPALIVE.
  await moreServerRecords(r.proxy, 1, KEEPALIVES_OUTLASTING_THE_STALL, sent);
  r.store.reads.open();
  await sent;
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
  assert.equal(r.proxy.connections.length, 2, 'the cut, then one resumed session that was never dropped');
  assert.deepEqual(eventsOf(events, 'stalled'), []);
  assert.ok(eventsOf(events, 'transfer-started')[1]!.heldBytes > 0, 'the second session resumed held chunks');
});

test('a finish that places the file slowly keeps a client with a 1 s stall timeout connected until PUT_DONE (KEEPALIVE)', async (t) => {
  const r = await rig(t, KEEPALIVE_MS);
  r.store.finishes.shut();
  const events: SendEvent[] = [];
  const sent = sendFiles(r.options({ onEvent: (event) => events.push(event) }));
  sent.catch(() => undefined);
  await r.store.finishes.reached();
  // After PUT_END the client waits for PUT_DONE while the server places the file (§5.6, §9.3).
  await moreServerRecords(r.proxy, 0, KEEPALIVES_OUTLASTING_THE_STALL, sent);
  r.store.finishes.open();
  await sent;
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
  assert.equal(r.proxy.connections.length, 1);
  assert.deepEqual(eventsOf(events, 'stalled'), []);
});

test('a server that stays silent while it works longer than the stall timeout is still dropped (STALLED)', async (t) => {
  // KEEPALIVE far apart: the server says nothing within the client's stall timeout.
  const r = await rig(t, 60_000);
  r.store.finishes.shut();
  const events: SendEvent[] = [];
  await assert.rejects(
    sendFiles(r.options({ onEvent: (event) => events.push(event) })),
    (err: unknown) => isFerryError(err) && err.code === 'STALLED',
  );
  assert.equal(eventsOf(events, 'stalled').length, 1);
  assert.equal(r.proxy.connections.length, 1);
});

test('a get whose server waits on the hash budget before GET_OFFER keeps a client with a 1 s stall timeout connected (KEEPALIVE)', async (t) => {
  const budgetWait = new Door();
  budgetWait.shut();
  // After hooks run in the order they were added: the door opens before the server closes (its close waits
  // for the parked session), whatever the test left it.
  t.after(() => budgetWait.open());
  const { dir, root, proxy, connect } = await startProxiedServer(t, 'ferry-keepalive-get-', {
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    keepaliveMs: KEEPALIVE_MS,
    // Past a one-byte burst every check waits (docs/SECURITY.md "Hashing on request"): here, for the test.
    hashBudget: { burstBytes: 1, bytesPerSecond: 1, sleep: () => budgetWait.pass() },
    retries: 0,
  });
  // The client holds the same file: it asks VERIFY_ONLY, which the server hashes before GET_OFFER (§5.11.1).
  const same = bytePattern(3 * CHUNK_BYTES + 7);
  await writeFile(join(root, 'same.bin'), same);
  const dest = join(dir, 'dest');
  await mkdir(dest);
  await writeFile(join(dest, 'same.bin'), same);
  const before = await stat(join(dest, 'same.bin'));
  const events: GetEvent[] = [];
  const got = getFiles({
    ...connect,
    remotePaths: ['same.bin'],
    localDir: dest,
    chunkBytes: CHUNK_BYTES,
    stallTimeoutMs: STALL_MS,
    onEvent: (event) => events.push(event),
  });
  // Its failure is awaited below; until then it must not surface as an unhandled rejection.
  got.catch(() => undefined);
  await budgetWait.reached();
  await moreServerRecords(proxy, 0, KEEPALIVES_OUTLASTING_THE_STALL, got);
  budgetWait.open();
  await got;
  assert.equal(proxy.connections.length, 1);
  assert.equal(events.filter((e) => e.type === 'stalled').length, 0);
  assert.equal((await stat(join(dest, 'same.bin'))).mtimeMs, before.mtimeMs, 'identical: left alone');
});
