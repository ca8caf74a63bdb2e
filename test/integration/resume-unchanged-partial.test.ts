// Resuming from a partial closed cleanly (PROTOCOL.md §9.2, issue 14): an upload cut at half and resumed
// counts the held chunks without reading a byte of them when the partial is unchanged since the server
// closed it; one byte rewritten in place with the size and the mtime (to the nanosecond) put back moves only
// the ctime, and the server re-hashes and drops that chunk; a state file without its closing record (what a
// crash leaves) re-hashes too. The client's partial of a cut download closes the same way and is judged by
// the same rule (`heldLoggedChunks`). Real TCP on loopback through the fault proxy, real files; the server's
// reads are counted by a wrapper of its real partial store (every read still reaches the file).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { open, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import { FerryServer, serverPartialStore } from '../../src/server/index.js';
import { sendFiles, type SendEvent, type SendFilesOptions } from '../../src/client/index.js';
import { PERMISSION_UPLOAD } from '../../src/protocol/index.js';
import {
  ChunkLog,
  type ChunkEntry,
  type InspectedPartial,
  type OpenPartialOptions,
  type PartialStore,
  type RootPath,
  type StoredPartial,
  type TransferHeader,
} from '../../src/transfer/index.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { cutDownloadRig } from '../helpers/cut-download-rig.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { sha256File, writeRandomFile } from '../helpers/random-file.js';

const CHUNK_BYTES = 64 * 1024;
/** 16 whole chunks and a short one: a cut at half leaves several durable chunks. */
const FILE_BYTES = 16 * CHUNK_BYTES + 1000;
/** A closing record: u32 index, 32-byte value, 4-byte check (PROTOCOL.md §9.2). */
const RECORD_BYTES = 40;

/** The server's real partial store, counting the bytes read back through it and the partials it closed. */
class CountingPartialStore implements PartialStore<string, RootPath> {
  bytesRead = 0;
  #opened = 0;
  #closed = 0;
  #waiters: Array<() => void> = [];
  readonly #inner: PartialStore<string, RootPath>;

  constructor(inner: PartialStore<string, RootPath>) {
    this.#inner = inner;
  }

  /** Resolves once every partial opened so far has been closed (and so, if it could, sealed). */
  allClosed(): Promise<void> {
    if (this.#closed >= this.#opened) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async open(
    key: string,
    header: TransferHeader,
    options: OpenPartialOptions,
  ): Promise<StoredPartial<RootPath>> {
    const inner = await this.#inner.open(key, header, options);
    this.#opened += 1;
    let closed = false;
    const closedOnce = (): void => {
      if (closed) return;
      closed = true;
      this.#closed += 1;
      if (this.#closed >= this.#opened) for (const go of this.#waiters.splice(0)) go();
    };
    return {
      restarted: inner.restarted,
      resumed: inner.resumed,
      logged: inner.logged,
      unchangedSinceClose: inner.unchangedSinceClose,
      read: async (offset: number, into: Buffer) => {
        const n = await inner.read(offset, into);
        this.bytesRead += n;
        return n;
      },
      write: (offset: number, data: Buffer) => inner.write(offset, data),
      flushWrites: () => inner.flushWrites(),
      makeDurable: (entries: readonly ChunkEntry[]) => inner.makeDurable(entries),
      resetLog: (entries: readonly ChunkEntry[]) => inner.resetLog(entries),
      finish: async (target, finishOptions) => {
        await inner.finish(target, finishOptions);
        closedOnce();
      },
      close: async () => {
        await inner.close();
        closedOnce();
      },
      abort: async () => {
        await inner.abort();
        closedOnce();
      },
    };
  }

  inspect(key: string): Promise<InspectedPartial | undefined> {
    return this.#inner.inspect(key);
  }
}

interface Rig {
  store: CountingPartialStore;
  partialDir: string;
  sourceSha: string;
  finalPath: string;
  /** Sends the file; the first connection is cut once half the file crossed the proxy. */
  send(overrides?: Partial<SendFilesOptions>): Promise<SendEvent[]>;
}

async function rig(t: TestContext): Promise<Rig> {
  const cleanups: Array<() => Promise<unknown>> = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });
  const dir = await makeTempDir('ferry-resume-unchanged-');
  cleanups.push(() => removeTempDir(dir));
  const root = join(dir, 'root');
  let store: CountingPartialStore | undefined;
  let partialDir = '';
  const serverIdentity = generateKeyPair();
  const server = await FerryServer.start({
    root,
    host: '127.0.0.1',
    port: 0,
    identity: serverIdentity,
    authorize: () => ({ permissions: PERMISSION_UPLOAD }),
    durableBatchBytes: CHUNK_BYTES,
    partialSweepIntervalMs: 0,
    partialStore: (dirOfPartials) => {
      partialDir = dirOfPartials;
      return (store = new CountingPartialStore(serverPartialStore(dirOfPartials)));
    },
  });
  cleanups.push(() => server.close());
  const proxy = await FaultProxy.start({
    target: server.address,
    plan: (i) => (i === 0 ? { cut: { afterBytes: Math.floor(FILE_BYTES / 2) } } : undefined),
  });
  cleanups.push(() => proxy.close());
  const source = join(dir, 'payload.bin');
  const sourceSha = await writeRandomFile(source, FILE_BYTES);
  const clientIdentity = generateKeyPair();
  assert.ok(store, 'the server built its partial store');
  return {
    store,
    partialDir,
    sourceSha,
    finalPath: join(root, 'payload.bin'),
    send: async (overrides = {}) => {
      const events: SendEvent[] = [];
      await sendFiles({
        server: proxy.address,
        files: [source],
        identity: clientIdentity,
        verifyServer: (key: Buffer) => assert.ok(key.equals(serverIdentity.publicKey), 'the server key'),
        chunkBytes: CHUNK_BYTES,
        retry: { retries: 0 },
        onEvent: (event) => events.push(event),
        ...overrides,
      });
      return events;
    },
  };
}

/** Cuts the first send at half and waits until the server closed its partial; returns the partial's files. */
async function cutAtHalf(r: Rig): Promise<{ dataPath: string; logPath: string; logged: ChunkEntry[] }> {
  await assert.rejects(r.send(), 'the cut send fails (no retries)');
  await r.store.allClosed();
  const names = (await readdir(r.partialDir)).filter((n) => n.endsWith('.part'));
  assert.equal(names.length, 1, 'one partial kept');
  const dataPath = join(r.partialDir, names[0]!);
  const logPath = dataPath.replace(/\.part$/, '.state');
  const log = await ChunkLog.load(logPath);
  assert.ok(log?.closing, 'the server closed the partial with a closing record');
  assert.ok(log.entries.length >= 2, `chunks held after the cut: ${log.entries.length}`);
  return { dataPath, logPath, logged: log.entries };
}

/**
 * Rewrites one byte at `offset` in place, as another process could, then puts the mtime back to the
 * nanosecond (GNU touch: utimensat; Node's seconds-as-float cannot): only the ctime tells.
 */
async function rewriteOneByteKeepingSizeAndMtime(path: string, offset: number): Promise<void> {
  const before = await stat(path, { bigint: true });
  const handle = await open(path, 'r+');
  const one = Buffer.alloc(1);
  await handle.read(one, 0, 1, offset);
  await handle.write(Buffer.from([one[0]! ^ 0xff]), 0, 1, offset);
  await handle.close();
  const ns = before.mtimeNs % 1_000_000_000n;
  const touched = spawnSync('touch', [
    '-m',
    '-d',
    `@${before.mtimeNs / 1_000_000_000n}.${ns.toString().padStart(9, '0')}`,
    path,
  ]);
  assert.equal(touched.status, 0, touched.stderr.toString());
  const after = await stat(path, { bigint: true });
  assert.equal(after.size, before.size);
  assert.equal(after.mtimeNs, before.mtimeNs, 'the mtime is back');
  assert.equal(after.ino, before.ino);
  assert.notEqual(after.ctimeNs, before.ctimeNs, 'only the ctime tells');
}

function heldBytesOf(events: SendEvent[]): number {
  const started = events.find((e) => e.type === 'transfer-started');
  assert.ok(started?.type === 'transfer-started', 'the resumed send started a transfer');
  return started.heldBytes;
}

test('a resume whose partial is unchanged since the server closed it reads none of the held chunks', async (t) => {
  const r = await rig(t);
  const { logged } = await cutAtHalf(r);
  const readBefore = r.store.bytesRead;
  const events = await r.send();
  assert.equal(heldBytesOf(events), logged.length * CHUNK_BYTES, 'every logged chunk counted as held');
  assert.equal(r.store.bytesRead - readBefore, 0, 'no held byte was read back');
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
});

test('a partial with one byte rewritten, its size and mtime put back (only the ctime moved), is re-hashed and the chunk dropped', async (t) => {
  const r = await rig(t);
  const { dataPath, logged } = await cutAtHalf(r);
  await rewriteOneByteKeepingSizeAndMtime(dataPath, 10);

  const readBefore = r.store.bytesRead;
  const events = await r.send();
  assert.equal(heldBytesOf(events), (logged.length - 1) * CHUNK_BYTES, 'the rewritten chunk is not held');
  assert.ok(
    r.store.bytesRead - readBefore >= (logged.length - 1) * CHUNK_BYTES,
    `the held chunks were re-read: ${r.store.bytesRead - readBefore} bytes`,
  );
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
});

test('a state file without its closing record (a crash) makes the resume re-hash every held chunk', async (t) => {
  const r = await rig(t);
  const { logPath, logged } = await cutAtHalf(r);
  // What a crash before the closing record was durable leaves: the log up to the last entry.
  await truncate(logPath, (await stat(logPath)).size - RECORD_BYTES);
  const log = await ChunkLog.load(logPath);
  assert.equal(log?.closing, undefined);
  assert.equal(log?.entries.length, logged.length);

  const readBefore = r.store.bytesRead;
  const events = await r.send();
  assert.equal(heldBytesOf(events), logged.length * CHUNK_BYTES, 'the re-hashed chunks still hold');
  assert.equal(r.store.bytesRead - readBefore, logged.length * CHUNK_BYTES, 'every held byte read once');
  assert.equal(await sha256File(r.finalPath), r.sourceSha);
});

test("a cut download's partial is closed with its identity, resumed whole when unchanged, and re-hashed without the chunk rewritten since", async (t) => {
  for (const rewrite of [false, true]) {
    const r = await cutDownloadRig(t, FILE_BYTES, CHUNK_BYTES);
    await assert.rejects(r.get(0), 'the cut download fails (no retries)');
    const logPath = join(r.dest, '.payload.bin.ferry-state');
    const log = await ChunkLog.load(logPath);
    assert.ok(log?.closing, 'the client closed its partial with a closing record');
    assert.ok(log.entries.length >= 2, `chunks held after the cut: ${log.entries.length}`);
    if (rewrite) await rewriteOneByteKeepingSizeAndMtime(join(r.dest, '.payload.bin.ferry-part'), 10);
    const result = await r.get(0);
    const expected = (log.entries.length - (rewrite ? 1 : 0)) * CHUNK_BYTES;
    assert.equal(result.resumedBytes, expected, rewrite ? 'the rewritten chunk is not held' : 'all held');
    assert.equal(await sha256File(join(r.dest, 'payload.bin')), r.sourceSha);
  }
});
