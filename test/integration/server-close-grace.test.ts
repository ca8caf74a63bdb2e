// `FerryServer.close({ graceMs })` (stop 42): a library user's close is bounded as `ferry serve`'s stop is.
// Before, close destroyed every connection and then waited for every session without bound, so a session
// stuck in a call that never returns (a disk that stopped taking data) kept it from ever resolving. Now it
// resolves at the grace, naming the sessions left in `sessionStates()`, and what the sessions left is
// resumable. Real servers on loopback, real files; the disk that hangs is a wrapper of the real partial
// store whose make-durable waits while the test holds it, the client that stops reading a proxy that stops
// forwarding (and reading) the server's bytes.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  FerryServer,
  SERVER_DEFAULTS,
  serverPartialStore,
  type ServeOptions,
} from '../../src/server/index.js';
import { formatMs } from '../../src/cli/parse-option.js';
import { getFiles, sendFiles, type SendEvent } from '../../src/client/index.js';
import { PERMISSION_DOWNLOAD, PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import type { PartialStore, RootPath, StoredPartial } from '../../src/transfer/index.js';
import { startProxiedServer } from '../helpers/proxied-server.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { withinDeadline } from '../helpers/within-deadline.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;
/** The grace the tests give `close`: short, the stuck session never ends within it anyway. */
const GRACE_MS = 200;
/** What `close` may take past its grace (the seal threads' end, the listener's): a hang becomes a failure. */
const BOUND_MS = 5_000;

/**
 * A disk that takes the first make-durable of the partials written through it, then holds every later one
 * until `release`, which fails it (a disk that never came back): the real store underneath.
 */
class HangingDisk {
  readonly stuck: Promise<void>;
  #markStuck!: () => void;
  #release!: (err: Error) => void;
  readonly #held: Promise<never>;
  #durables = 0;

  constructor() {
    this.stuck = new Promise<void>((resolve) => (this.#markStuck = resolve));
    this.#held = new Promise<never>((_, reject) => (this.#release = reject));
    this.#held.catch(() => undefined);
  }

  wrap(inner: PartialStore<string, RootPath>): PartialStore<string, RootPath> {
    const open: PartialStore<string, RootPath>['open'] = async (...args) =>
      this.#hanging(await inner.open(...args));
    return new Proxy(inner, { get: (target, key) => (key === 'open' ? open : bound(target, key)) });
  }

  release(): void {
    this.#release(new Error('EIO: the disk went away'));
  }

  #hanging(partial: StoredPartial<RootPath>): StoredPartial<RootPath> {
    const makeDurable: StoredPartial<RootPath>['makeDurable'] = (entries) => {
      if (++this.#durables === 1) return partial.makeDurable(entries);
      this.#markStuck();
      return this.#held;
    };
    return new Proxy(partial, {
      get: (target, key) => (key === 'makeDurable' ? makeDurable : bound(target, key)),
    });
  }
}

/** `target[key]`, a method bound to `target`. */
function bound(target: object, key: string | symbol): unknown {
  const value: unknown = Reflect.get(target, key);
  return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
}

/** Closes `server` with the test's grace; fails if the close took longer than the grace and its bound. */
async function closeWithinGrace(server: FerryServer, what: string): Promise<void> {
  await withinDeadline(
    server.close({ graceMs: GRACE_MS }),
    GRACE_MS + BOUND_MS,
    `close({ graceMs: ${GRACE_MS} }) still waiting ${BOUND_MS} ms past its grace, with ${what}`,
  );
}

test('FerryServer.close resolves at its grace while a session is stuck writing an upload, and the upload resumes', async (t: TestContext) => {
  const dir = await makeTempDir('ferry-close-grace-up-');
  const disk = new HangingDisk();
  const options: ServeOptions = {
    root: join(dir, 'root'),
    port: 0,
    identity: generateKeyPair(),
    partialSweepIntervalMs: 0,
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    durableBatchBytes: CHUNK_BYTES,
  };
  const first = await FerryServer.start({
    ...options,
    partialStore: (partialDir) => disk.wrap(serverPartialStore(partialDir)),
  });
  const ended = once(first.events, 'session-closed');
  const later: { second?: FerryServer } = {};
  t.after(async () => {
    await later.second?.close();
    // The disk answers at last (with an error): the stuck session ends, and then the directory can go.
    disk.release();
    await first.close();
    await ended;
    await removeTempDir(dir);
  });
  const source = join(dir, 'payload.bin');
  const sha = await writeRandomFile(source, 8 * CHUNK_BYTES);
  const clientIdentity = generateKeyPair();
  const send = (server: FerryServer, onEvent?: (event: SendEvent) => void) =>
    sendFiles({
      server: server.address,
      identity: clientIdentity,
      verifyServer: () => undefined,
      retry: { retries: 0 },
      files: [source],
      chunkBytes: CHUNK_BYTES,
      ...(onEvent ? { onEvent } : {}),
    });
  const sending = send(first).catch((err: unknown) => err);
  await disk.stuck;

  // A close with a long grace (a library user's, or `ServeOptions.signal`'s default), then one with a short
  // one: the shorter ends the wait for both.
  const patient = first.close({ graceMs: 60_000 });
  await closeWithinGrace(first, 'a session stuck in make-durable');
  await patient;
  const left = first.sessionStates();
  assert.equal(left.length, 1, 'the stuck session is named as left');
  assert.equal(left[0]!.connection, 'closed');
  assert.match(left[0]!.phase, /^end: uploads$/);
  assert.ok((await sending) instanceof Error, 'the client saw its session end');

  // The next server on the root finds the partial as its last durable batch left it.
  const second = (later.second = await FerryServer.start(options));
  const events: SendEvent[] = [];
  await send(second, (event) => events.push(event));
  const resumed = events.find((event) => event.type === 'transfer-resumed');
  assert.ok(resumed?.type === 'transfer-resumed', 'the upload resumed');
  assert.ok(resumed.fromBytes >= CHUNK_BYTES, `resumed from ${resumed.fromBytes}`);
  assert.equal(await sha256File(join(second.root, 'payload.bin')), sha);
});

test('FerryServer.close resolves at its grace while a download waits for a client that stopped reading, and the download resumes', async (t: TestContext) => {
  const FILE_BYTES = 16 * 1024 * 1024;
  const identity = generateKeyPair();
  const r = await startProxiedServer(t, 'ferry-close-grace-down-', {
    identity,
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
    retries: 0,
    // The client reads (and the proxy forwards) 1 MiB of the server's bytes, then nothing: the server's
    // writes wait for room in a socket nobody reads.
    plan: { stall: { afterBytes: 1024 * 1024, direction: 'serverToClient', freeze: 'one' } },
  });
  const sha = await writeRandomFile(join(r.root, 'big.bin'), FILE_BYTES);
  const dest = join(r.dir, 'dest');
  const stop = new AbortController();
  const getting = getFiles({
    ...r.connect,
    remotePaths: ['big.bin'],
    localDir: dest,
    chunkBytes: CHUNK_BYTES,
    signal: stop.signal,
  }).catch((err: unknown) => err);
  await (
    await r.proxy.connection(0)
  ).stalled;

  await closeWithinGrace(r.server, 'a download blocked on backpressure');
  assert.deepEqual(r.server.sessionStates(), [], 'the session ended with its connection');
  // A stalled link carries no FIN: the client learns of the end by its own means.
  stop.abort();
  assert.ok((await getting) instanceof Error, 'the client saw its download end');

  const second = await FerryServer.start({
    root: r.root,
    port: 0,
    identity,
    partialSweepIntervalMs: 0,
    authorize: () => ({ permissions: PERMISSION_DOWNLOAD }),
  });
  t.after(() => second.close());
  const [result] = await getFiles({
    ...r.connect,
    server: second.address,
    remotePaths: ['big.bin'],
    localDir: dest,
    chunkBytes: CHUNK_BYTES,
  });
  assert.ok(result!.resumedBytes > 0, `resumed ${result!.resumedBytes} bytes`);
  assert.equal(await sha256File(join(dest, 'big.bin')), sha);
});

test('FerryServer.close refuses a grace that is not a duration, rather than wait without bound', async (t) => {
  const { server } = await startTempDirServer(t, 'ferry-close-grace-nan-', {
    authorize: () => undefined,
  });
  assert.throws(() => server.close({ graceMs: Number.NaN }), RangeError);
  assert.throws(() => server.close({ graceMs: -1 }), RangeError);
  await server.close({ graceMs: 0 });
});

test("README's Library section names close's default grace as SERVER_DEFAULTS has it", async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const library = readme.slice(readme.indexOf('## Library'));
  assert.ok(
    library.includes(`(default ${formatMs(SERVER_DEFAULTS.closeGraceMs)}, \`SERVER_DEFAULTS.closeGraceMs\``),
    'README "Library" gives close\'s default grace',
  );
});
