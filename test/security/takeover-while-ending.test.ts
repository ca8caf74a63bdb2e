// A newer session of a client takes a transfer over while an older session is ending its use of it
// (PROTOCOL.md §6.2: at most one writer per transfer). Two windows were left by closing-24: the older
// session's close cleared its open upload one `await` (the delta old file's close) before it registered the
// close, and a finish waiting for one of the 32 finish slots was registered only once it had one. A takeover
// landing in either found nothing to wait for, and the newer session opened the partial while the older
// still closed or was about to place it. A same-session sibling: a new offer of a path whose own finish
// still runs. Real server on loopback, raw sessions; each window is held open by a gate, not by timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { read, openSync, closeSync, writeSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { ERROR_CODES } from '../../src/errors/index.js';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/crypto/index.js';
import {
  LEAF_BYTES,
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  deltaBlockBytesFor,
  deltaBlockCount,
  type Message,
} from '../../src/protocol/index.js';
import {
  LocalTransferOwnership,
  serverPartialStore,
  type OwnershipClaim,
  type TransferOwnership,
} from '../../src/server/index.js';
import type {
  InspectedPartial,
  OpenPartialOptions,
  PartialStore,
  RootPath,
  StoredPartial,
  TransferHeader,
} from '../../src/transfer/index.js';
import { openAdmittedSession, receiveMessage } from '../helpers/admitted-session.js';
import { RawUpload } from '../helpers/raw-upload.js';
import { startTempDirServer } from '../helpers/temp-dir-server.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/** This server alone, counting every claim that got past the local takeover rule. */
class WatchedOwnership implements TransferOwnership {
  readonly #inner = new LocalTransferOwnership();
  acquires = 0;
  #waiters: Array<{ count: number; resolve: () => void }> = [];
  acquire(): Promise<OwnershipClaim> {
    this.acquires++;
    this.#waiters = this.#waiters.filter((w) => (w.count <= this.acquires ? (w.resolve(), false) : true));
    return this.#inner.acquire();
  }
  /** Resolves once `count` claims were acquired. */
  acquired(count: number): Promise<void> {
    if (this.acquires >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * The server's own store, whose partials' `finish` waits at a gate the test opens: `before` placing the file,
 * or `after` it (the finish holds its slot, while the data of its file, read into the session's receive
 * buffers, has landed and those buffers are free again).
 */
class FinishGatedStore implements PartialStore<string, RootPath> {
  readonly #inner: PartialStore<string, RootPath>;
  readonly #where: 'before' | 'after';
  #gate = Promise.resolve();
  #open = (): void => undefined;
  finishesEntered = 0;
  finishesDone = 0;
  #waiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(inner: PartialStore<string, RootPath>, where: 'before' | 'after') {
    this.#inner = inner;
    this.#where = where;
  }

  #latestWritten = { bytes: 0 };
  #writeWaiters: Array<() => boolean> = [];

  /** Resolves once the partial opened last was handed `bytes` bytes to write. */
  latestWrote(bytes: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): boolean => (this.#latestWritten.bytes >= bytes ? (resolve(), true) : false);
      if (!done()) this.#writeWaiters.push(done);
    });
  }

  /** From now on finishes wait at the gate, until `openGate`. */
  closeGate(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  openGate(): void {
    this.#open();
  }

  /** Resolves once `count` finishes are waiting at the gate (or past it). */
  entered(count: number): Promise<void> {
    if (this.finishesEntered >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  async open(
    key: string,
    header: TransferHeader,
    options: OpenPartialOptions,
  ): Promise<StoredPartial<RootPath>> {
    const stored = await this.#inner.open(key, header, options);
    const finish = stored.finish.bind(stored);
    const write = stored.write.bind(stored);
    const written = { bytes: 0 };
    this.#latestWritten = written;
    return new Proxy(stored, {
      get: (target, name, receiver) => {
        if (name === 'write') {
          return async (offset: number, data: Buffer) => {
            written.bytes += data.length;
            this.#writeWaiters = this.#writeWaiters.filter((w) => (w() ? false : true));
            return write(offset, data);
          };
        }
        if (name !== 'finish') {
          const value: unknown = Reflect.get(target, name, receiver);
          return typeof value === 'function'
            ? (value as (...args: unknown[]) => unknown).bind(target)
            : value;
        }
        return async (...args: Parameters<StoredPartial<RootPath>['finish']>) => {
          this.finishesEntered++;
          this.#waiters = this.#waiters.filter((w) =>
            w.count <= this.finishesEntered ? (w.resolve(), false) : true,
          );
          if (this.#where === 'before') await this.#gate;
          try {
            await finish(...args);
            if (this.#where === 'after') await this.#gate;
          } finally {
            this.finishesDone++;
          }
        };
      },
    });
  }

  inspect(key: string): Promise<InspectedPartial | undefined> {
    return this.#inner.inspect(key);
  }
}

/** Resolves after `turns` turns of the event loop (a bound, not a sleep: nothing here waits on time). */
async function loopTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Turns of the event loop within which a message sent on loopback is read and routed, records opened on the
 * pool's workers included (a bound, not a sleep: past it the attempt's order is checked, not assumed).
 */
const TURNS = 500;

/** How many times a scenario is tried when the server read the two sessions' messages the other way round. */
const ATTEMPTS = 5;

/**
 * Runs `attempt` until one is conclusive (the older session's step was read before the newer one's offer:
 * the order the window needs, which two sockets cannot force) and returns its verdict; fails, never skips,
 * when none was.
 */
async function conclusive(attempt: (n: number) => Promise<boolean | 'inconclusive'>): Promise<boolean> {
  for (let n = 0; n < ATTEMPTS; n++) {
    const verdict = await attempt(n);
    if (verdict !== 'inconclusive') return verdict;
  }
  assert.fail(`in ${ATTEMPTS} attempts the server never read the older session's step first`);
}

/**
 * Occupies every thread of libuv's pool (UV_THREADPOOL_SIZE, default 4) with a read of an empty FIFO, so
 * every file operation of this process (the server's too: it runs here) queues behind them until `release`
 * writes to it. The queue is first in, first out, so once that many reads are queued nothing after them
 * runs, whether or not a thread has picked them up yet; a probe `stat` checks it.
 */
async function holdFileOperations(dir: string, name: string): Promise<{ release: () => void }> {
  const fifo = join(dir, name);
  execFileSync('mkfifo', [fifo]);
  // O_RDWR: opening never blocks, and reads block until a byte is written (no writer ever closes).
  const fd = openSync(fifo, 'r+');
  const readers = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  for (let i = 0; i < readers; i++) read(fd, Buffer.alloc(1), 0, 1, null, () => undefined);
  let probed = false;
  void stat(dir).then(() => (probed = true));
  await loopTurns(TURNS);
  assert.equal(probed, false, `${readers} blocked reads did not hold the thread pool`);
  return {
    release: () => {
      writeSync(fd, Buffer.alloc(readers));
      // Closed once every reader returned; the test's directory is removed after.
      setImmediate(() => closeSync(fd));
    },
  };
}

test('a takeover landing while an older session closes a delta upload waits for that close (closing-24 window a)', async (t) => {
  const identity = generateKeyPair();
  const ownership = new WatchedOwnership();
  const { dir, server } = await startTempDirServer(t, 'ferry-takeover-close-', {
    authorize: (key) =>
      key.equals(identity.publicKey) ? { permissions: PERMISSION_UPLOAD | PERMISSION_DOWNLOAD } : undefined,
    ownership,
  });
  const scratch = await makeTempDir('ferry-takeover-fifo-');
  t.after(() => removeTempDir(scratch));
  const size = 4 * LEAF_BYTES;
  const offer = (ref: number, path: string, delta: boolean): Message => ({
    type: 'PUT_OFFER',
    ref,
    size,
    mtimeMs: 1_700_000_000_000,
    chunkBytes: LEAF_BYTES,
    mode: 0o644,
    overwrite: true,
    fresh: false,
    ...(delta ? { delta: true as const } : {}),
    path,
  });

  const claimedWhileClosing = await conclusive(async (n) => {
    // An old file to sign: the older session's delta upload keeps it open until the transfer ends.
    const path = `old-${n}.bin`;
    await writeFile(join(dir, 'root', path), Buffer.alloc(size, 7));
    const older = await openAdmittedSession(t, server.address, identity);
    const newer = await openAdmittedSession(t, server.address, identity);
    await older.send(offer(1, path, true));
    assert.equal((await receiveMessage(older, 'PUT_ACCEPT')).delta, true);
    const blocks = deltaBlockCount(size, deltaBlockBytesFor(size));
    for (let signed = 0; signed < blocks;) {
      const record = await receiveMessage(older, 'DELTA_BLOCKS');
      signed = record.firstBlock + record.weak.length;
    }
    const claimsBefore = ownership.acquires;

    // From here no file operation of the server completes: the older session's close (old file, then
    // partial) cannot finish, so a takeover that waits for it cannot claim.
    const hold = await holdFileOperations(scratch, `hold-${n}.fifo`);
    let released = false;
    const release = (): void => {
      if (!released) hold.release();
      released = true;
    };
    t.after(release);
    await older.send({ type: 'CANCEL', ref: 1 });
    // The CANCEL is read and its close begun within these turns (sockets, the record pool's workers and CPU;
    // no file operation).
    await loopTurns(TURNS);
    await newer.send(offer(2, path, false));
    await Promise.race([ownership.acquired(claimsBefore + 1), loopTurns(TURNS)]);
    const claimed = ownership.acquires > claimsBefore;
    release();
    // Once the older close is done, the newer offer is accepted on the partial the older one closed.
    assert.equal((await receiveMessage(newer, 'PUT_ACCEPT')).ref, 2);
    await newer.send({ type: 'CANCEL', ref: 2 });
    // Which came first: had the offer been read before the CANCEL, ref 1 was taken over while receiving.
    await older.send({
      ...(offer(9, `probe-${n}.txt`, false) as Extract<Message, { type: 'PUT_OFFER' }>),
      size: 1,
    });
    const next = await older.receive();
    if (next.type === 'ERROR' && next.ref === 1 && next.code === ERROR_CODES.TRANSFER_TAKEN_OVER.wire)
      return 'inconclusive';
    assert.equal(next.type === 'PUT_ACCEPT' && next.ref, 9, JSON.stringify(next));
    return claimed;
  });
  assert.equal(
    claimedWhileClosing,
    false,
    'the newer session claimed the transfer while the older one was still closing its partial',
  );
});

test('a takeover landing while an older session`s finish waits for a free slot waits for that finish (closing-24 window b)', async (t) => {
  const identity = generateKeyPair();
  const ownership = new WatchedOwnership();
  let store: FinishGatedStore | undefined;
  const { dir, server } = await startTempDirServer(t, 'ferry-takeover-slot-', {
    authorize: (key) => (key.equals(identity.publicKey) ? { permissions: PERMISSION_UPLOAD } : undefined),
    partialStore: (partialDir) => (store = new FinishGatedStore(serverPartialStore(partialDir), 'after')),
    ownership,
  });
  t.after(() => store?.openGate());
  const CHUNK = 64 * 1024;

  const claimedWhileWaiting = await conclusive(async (n) => {
    store!.closeGate();
    const older = await openAdmittedSession(t, server.address, identity);
    const newer = await openAdmittedSession(t, server.address, identity);
    const files = Array.from(
      { length: 33 },
      (_, i) =>
        new RawUpload(
          Buffer.from(`file ${i} of attempt ${n}, filling the finish slots`),
          CHUNK,
          `a${n}/f${i}.txt`,
        ),
    );
    const finishesBefore = store!.finishesEntered;
    // 32 finishes hold every slot at the gate.
    for (const [i, file] of files.slice(0, 32).entries()) {
      await older.send(file.offer(i + 1));
      await receiveMessage(older, 'PUT_ACCEPT');
      await file.sendChunk(older, i + 1, 0);
      await older.send({ type: 'PUT_END', ref: i + 1, fileDigest: file.digest });
    }
    await store!.entered(finishesBefore + 32);
    // The 33rd is received whole; its PUT_END waits for a slot.
    const last = files[32]!;
    await older.send(last.offer(33));
    await receiveMessage(older, 'PUT_ACCEPT');
    await last.sendChunk(older, 33, 0);
    await older.send({ type: 'PUT_END', ref: 33, fileDigest: last.digest });
    // Its data was handed to the store (records opened, hashed and routed); PUT_CHUNK and PUT_END follow it
    // on the event loop within these turns.
    await store!.latestWrote(last.content.length);
    await loopTurns(TURNS);
    const claimsBefore = ownership.acquires;

    await newer.send(last.offer(7));
    await Promise.race([ownership.acquired(claimsBefore + 1), loopTurns(TURNS)]);
    const claimed = ownership.acquires > claimsBefore && store!.finishesEntered < finishesBefore + 33;
    store!.openGate();
    const answers = new Map<number, Message>();
    while (answers.size < 33) {
      const message = await older.receive();
      if (message.type !== 'PROGRESS') answers.set((message as { ref: number }).ref, message);
    }
    const newerAnswer = await newer.receive();
    await newer.send({ type: 'CANCEL', ref: 7 });
    for (let ref = 1; ref <= 32; ref++) assert.equal(answers.get(ref)?.type, 'PUT_DONE');
    const lastAnswer = answers.get(33)!;
    // Had the offer been read before PUT_END 33, ref 33 was taken over while receiving.
    if (lastAnswer.type === 'ERROR' && lastAnswer.code === ERROR_CODES.TRANSFER_TAKEN_OVER.wire)
      return 'inconclusive';
    // Two writers on one partial (the defect) may fail either side: the verdict is the claim itself.
    if (claimed) return true;
    // The older session placed it; the newer offer then finds its own file in place (PROTOCOL.md §5.4).
    assert.equal(lastAnswer.type, 'PUT_DONE', JSON.stringify(lastAnswer));
    assert.equal(
      newerAnswer.type === 'PUT_ACCEPT' && newerAnswer.existing,
      true,
      JSON.stringify(newerAnswer),
    );
    assert.deepEqual(await readFile(join(dir, 'root', last.path)), last.content);
    return false;
  });
  assert.equal(
    claimedWhileWaiting,
    false,
    'the newer session claimed the transfer while the older one`s finish waited for a slot',
  );
});

test('an offer of a path whose finish on the same session still runs waits for that finish', async (t) => {
  const identity = generateKeyPair();
  let store: FinishGatedStore | undefined;
  const { dir, server } = await startTempDirServer(t, 'ferry-reoffer-finishing-', {
    authorize: (key) => (key.equals(identity.publicKey) ? { permissions: PERMISSION_UPLOAD } : undefined),
    partialStore: (partialDir) => (store = new FinishGatedStore(serverPartialStore(partialDir), 'before')),
  });
  t.after(() => store?.openGate());
  const session = await openAdmittedSession(t, server.address, identity);
  store!.closeGate();
  const CHUNK = 64 * 1024;
  const first = new RawUpload(Buffer.alloc(3 * CHUNK, 1), CHUNK, 'same.bin');
  await session.send(first.offer(1));
  await receiveMessage(session, 'PUT_ACCEPT');
  for (let i = 0; i < 3; i++) await first.sendChunk(session, 1, i);
  await session.send({ type: 'PUT_END', ref: 1, fileDigest: first.digest });
  await store!.entered(1);
  // The same path again, FRESH, overwriting: its partial is the one being placed.
  const second = new RawUpload(Buffer.alloc(3 * CHUNK, 2), CHUNK, 'same.bin');
  await session.send({
    ...(second.offer(2) as Extract<Message, { type: 'PUT_OFFER' }>),
    overwrite: true,
    fresh: true,
  });
  // Nothing about ref 2 may happen before ref 1 is placed: its PUT_ACCEPT comes after PUT_DONE 1.
  const nextAnswer = async (): Promise<Message> => {
    for (;;) {
      const message = await session.receive();
      if (message.type !== 'PROGRESS') return message;
    }
  };
  let answered: Message | undefined;
  const answer = nextAnswer().then((message) => (answered = message));
  await Promise.race([answer, loopTurns(50)]);
  store!.openGate();
  assert.equal(
    answered,
    undefined,
    `answered while ref 1 was still being placed: ${JSON.stringify(answered)}`,
  );
  const done1 = await answer;
  assert.equal(done1.type === 'PUT_DONE' && done1.ref, 1, JSON.stringify(done1));
  const accept = await receiveMessage(session, 'PUT_ACCEPT');
  assert.equal(accept.ref, 2);
  // The first file is in place whole, as its PUT_DONE said.
  assert.deepEqual(await readFile(join(dir, 'root', 'same.bin')), first.content);
  for (let i = 0; i < 3; i++) await second.sendChunk(session, 2, i);
  await session.send({ type: 'PUT_END', ref: 2, fileDigest: second.digest });
  let done = await session.receive();
  while (done.type === 'PROGRESS') done = await session.receive();
  assert.equal(done.type, 'PUT_DONE', JSON.stringify(done));
  assert.deepEqual(await readFile(join(dir, 'root', 'same.bin')), second.content);
});
