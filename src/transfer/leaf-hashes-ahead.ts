import { ChunkHashes, LEAF_BYTES, MAX_DELTA_BLOCKS } from '../protocol/index.js';
import type { ChunkSource } from './chunk-source.js';
import { LEAF_HASH_THREAD } from './leaf-hash-thread.js';
import { leafHashesOf } from './leaf-hashes-of.js';

/**
 * What `LeafHashesAhead` reads: a file's size and bytes, and its descriptor to lend the leaf hash thread if
 * it has one (a delta download's old file is hashed up to the offered size only, issue 16).
 */
export type HashedSource = Pick<ChunkSource, 'size' | 'readExactly' | 'lendFd' | 'returnFd'>;

/**
 * Where the leaves hashed are also written through, where they lie (a delta download's partial, issue 16):
 * a descriptor lent for it (opened for direct I/O), and the end (bytes) below which whole leaves are written.
 */
export interface WriteThrough {
  /** The descriptor, and how to give it back saying the bytes written through it. */
  lend(): Promise<{ readonly fd: number; readonly giveBack: (bytes: number) => void } | undefined>;
  readonly end: number;
}

/** Bytes of the file read at once while its leaves are hashed ahead: 64 leaves. */
const AHEAD_READ_BYTES = 64 * LEAF_BYTES;

/**
 * A delta upload's new file hashed leaf by leaf from its start while the server signs its old file and the
 * signature arrives (PROTOCOL.md §5.15.2: no data may go before the last record, so the sender would
 * otherwise wait), until `stop`. The chunk hashes and the matcher's checks of blocks on a leaf boundary then
 * take these hashes instead of hashing the same bytes again: both passes of the scan (the chunk hash over
 * the leaves, and the matcher's leaf hashes where blocks lie in place) cost a hash of the file each.
 * At most MAX_DELTA_BLOCKS leaves (8 MiB of hashes), the most a signature describes.
 */
export class LeafHashesAhead {
  readonly hashes: ChunkHashes;
  #stopped = false;
  /** The leaf hash thread's progress and stop flag while it reads the file (`#onThread`). */
  #state: Int32Array | undefined;
  readonly #running: Promise<void>;
  /** Leaves hashed from the file's start (they are hashed in order), or Infinity once the work ended. */
  #through = 0;
  /** Who waits for `#through` to reach a count (`hashedThrough`), or `#written` (`writtenThrough`). */
  #waiting: Array<{ readonly leaves: number; readonly resolve: () => void }> = [];
  #writtenWaiting: Array<{ readonly leaves: number; readonly resolve: () => void }> = [];
  /** Leaves written through and landed from the file's start (`WriteThrough`); final once the work ended. */
  #written = 0;
  /** Whether a write through may still be made (or is in flight): until none can be any more. */
  #mayWrite: boolean;

  private constructor(source: HashedSource, writeThrough: WriteThrough | undefined) {
    this.hashes = new ChunkHashes(Math.min(source.size, MAX_DELTA_BLOCKS * LEAF_BYTES), LEAF_BYTES);
    this.#mayWrite = writeThrough !== undefined;
    this.#running = this.#run(source, writeThrough)
      .catch(() => undefined) // a failed read just ends the work ahead
      .finally(() => {
        this.#mayWrite = false;
        this.#reached(Infinity);
        this.#landed(this.#written);
      });
  }

  /**
   * Starts hashing `source`'s leaves from its start; with `writeThrough`, on the leaf hash thread, each whole
   * leaf below its end is also written where it lies (counted in `writtenLeaves` once landed), from the
   * very bytes hashed: what the file held when hashed, whatever it holds later.
   */
  static start(source: HashedSource, writeThrough?: WriteThrough): LeafHashesAhead {
    return new LeafHashesAhead(source, writeThrough);
  }

  /**
   * Leaves written through (`start`'s `writeThrough`) and landed, in order from the file's start: those
   * below hold exactly the bytes whose hashes `hashes` has. Final once the work ended (`settled`): no write
   * is in flight then, and none is made after.
   */
  get writtenLeaves(): number {
    return this.#written;
  }

  /** Whether a leaf may still be written through (or a write is in flight); false once none can be. */
  get mayWrite(): boolean {
    return this.#mayWrite;
  }

  /**
   * Resolves once the first `leaves` leaves are written through and landed, or once no more will be (the
   * work ended, or nothing is written through): the caller then reads `writtenLeaves`.
   */
  writtenThrough(leaves: number): Promise<void> {
    if (leaves <= this.#written || !this.#mayWrite) return Promise.resolve();
    return new Promise((resolve) => this.#writtenWaiting.push({ leaves, resolve }));
  }

  #landed(leaves: number): void {
    this.#written = leaves;
    const due = this.#writtenWaiting.filter((waiter) => !this.#mayWrite || waiter.leaves <= leaves);
    if (due.length === 0) return;
    this.#writtenWaiting = this.#writtenWaiting.filter((waiter) => !due.includes(waiter));
    for (const waiter of due) waiter.resolve();
  }

  /** Resolves once every leaf is hashed (or the work stopped). */
  settled(): Promise<void> {
    return this.#running;
  }

  /**
   * Resolves once the first `leaves` leaves are hashed, or once the work ended short of them (stopped,
   * failed): the caller then finds what `hashes` holds.
   */
  hashedThrough(leaves: number): Promise<void> {
    if (leaves <= this.#through) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push({ leaves, resolve }));
  }

  /** Leaves hashed from the file's start so far (all of them once the work ended, Infinity). */
  get hashedLeaves(): number {
    return this.#through;
  }

  #reached(leaves: number): void {
    this.#through = leaves;
    const due = this.#waiting.filter((waiter) => waiter.leaves <= leaves);
    if (due.length === 0) return;
    this.#waiting = this.#waiting.filter((waiter) => waiter.leaves > leaves);
    for (const waiter of due) waiter.resolve();
  }

  /** Stops after the read in flight; resolves once nothing runs. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#state !== undefined) Atomics.store(this.#state, 1, 1);
    await this.#running;
    this.#release.resolve();
  }

  /** Resolved by `stop` once nothing runs (`stopped`). */
  readonly #release: { readonly promise: Promise<void>; readonly resolve: () => void } = (() => {
    let resolve!: () => void;
    const promise = new Promise<void>((done) => (resolve = done));
    return { promise, resolve };
  })();

  /**
   * Resolves once its user stopped it (`stop`) and nothing runs: the moment its table (up to 8 MiB) is no
   * longer needed, where `settled` only says the hashing ended and the table still waits for its user.
   */
  stopped(): Promise<void> {
    return this.#release.promise;
  }

  async #run(source: HashedSource, writeThrough: WriteThrough | undefined): Promise<void> {
    const size = Math.min(source.size, MAX_DELTA_BLOCKS * LEAF_BYTES);
    // A small file is hashed through this event loop: starting the thread would cost more (`worthFor`).
    const threaded = LEAF_HASH_THREAD.worthFor(size);
    // Written through only by the thread (the event loop's hashing writes nothing): lent before it starts.
    const lent =
      threaded && writeThrough && size > 0 && source.lendFd !== undefined && !this.#stopped
        ? await writeThrough.lend().catch(() => undefined)
        : undefined;
    if (lent === undefined && this.#mayWrite) {
      this.#mayWrite = false;
      this.#landed(0);
    }
    let from: number | undefined;
    try {
      from = threaded
        ? await this.#onThread(source, size, lent && { fd: lent.fd, end: writeThrough!.end })
        : 0;
    } finally {
      lent?.giveBack(this.#written * LEAF_BYTES);
    }
    if (from !== undefined) await this.#onLoop(source, size, from);
  }

  /**
   * Hashes the file's leaves on the leaf hash thread, which reads them itself through the source's lent
   * descriptor (`LeafHashThread.hashFile`; issue 16: read and hashed through this event loop, a delta
   * upload's client finished hashing its new file 0.1-0.3 s after the server had signed its old one, the
   * thread idle whenever the loop was busy), taking each piece's hashes as the thread publishes them.
   * Returns where the event loop's hashing is to go on (the thread failed, or there is no descriptor to
   * lend), or undefined once the work is over: done, stopped, or a read failed (which ends it, as there).
   */
  async #onThread(
    source: HashedSource,
    size: number,
    writeThrough: { readonly fd: number; readonly end: number } | undefined,
  ): Promise<number | undefined> {
    if (size === 0 || source.lendFd === undefined || source.returnFd === undefined) return 0;
    let fd: number;
    try {
      fd = source.lendFd();
    } catch {
      return undefined; // closed: nothing to read
    }
    const table = new SharedArrayBuffer(32 * Math.ceil(size / LEAF_BYTES));
    const state = new Int32Array(new SharedArrayBuffer(writeThrough ? 16 : 8));
    this.#state = state;
    if (this.#stopped) Atomics.store(state, 1, 1);
    let settled = false;
    const job = LEAF_HASH_THREAD.hashFile(fd, size, AHEAD_READ_BYTES, table, state, writeThrough).finally(
      () => (settled = true),
    );
    const over = job.then(
      () => undefined,
      () => undefined,
    );
    let taken = 0;
    try {
      for (;;) {
        // Whether it ended, asked before the count: the last count is published before the answer.
        const ended = settled;
        const through = Atomics.load(state, 0);
        for (; taken < through; taken++) this.hashes.set(taken, new Uint8Array(table, 32 * taken, 32));
        this.#reached(taken);
        // Landed only after hashed (the thread writes a piece once hashed): never past `taken`.
        if (writeThrough) this.#landed(Math.min(taken, Atomics.load(state, 2)));
        if (ended) break;
        const wait = waitAsync(state, 0, through);
        if (wait.async) await Promise.race([wait.value, over]);
      }
      await job;
      return undefined;
    } catch {
      return taken * LEAF_BYTES; // the thread failed: this loop goes on from there
    } finally {
      source.returnFd();
    }
  }

  /** Hashes the file's leaves from byte `from` (a leaf boundary) through this event loop. */
  async #onLoop(source: HashedSource, size: number, from: number): Promise<void> {
    // Two buffers of shared memory: the leaf hash thread hashes one in place while the next piece is read
    // into the other, and this thread stays free for the signature's records and the scan (issue 16: the
    // client's event loop spent ~0.6 s per GiB here, ahead of the scan it then had to run).
    const bytes = Math.min(AHEAD_READ_BYTES, size);
    const buffers = [0, 1].map(() => Buffer.from(new SharedArrayBuffer(bytes)));
    let turn = 0;
    const read = async (at: number): Promise<Buffer> => {
      const buffer = buffers[turn++ % 2]!.subarray(0, Math.min(AHEAD_READ_BYTES, size - at));
      await source.readExactly(buffer, 0, buffer.length, at);
      return buffer;
    };
    let next = from < size && !this.#stopped ? read(from) : undefined;
    for (let at = from; at < size && !this.#stopped; at += AHEAD_READ_BYTES) {
      const piece = await next!;
      const hashing = leafHashesOf(piece);
      // The next read goes to the other buffer, which no hashing reads any more (awaited below, last turn).
      next = at + AHEAD_READ_BYTES < size && !this.#stopped ? read(at + AHEAD_READ_BYTES) : undefined;
      next?.catch(() => undefined); // awaited next turn; one left behind by a stop must not be unhandled
      const hashes = await hashing;
      for (let i = 0; i < hashes.length / 32; i++)
        this.hashes.set(at / LEAF_BYTES + i, hashes.subarray(32 * i, 32 * i + 32));
      this.#reached(at / LEAF_BYTES + hashes.length / 32);
    }
    await next?.catch(() => undefined);
  }
}

/**
 * `Atomics.waitAsync` (Node 16 on; not in TypeScript's ES2023 library): resolves once `array[index]` is
 * notified while it holds `value`, or at once (`async` false) when it no longer does.
 */
const waitAsync = (
  array: Int32Array,
  index: number,
  value: number,
): { async: false; value: string } | { async: true; value: Promise<string> } =>
  (
    Atomics as unknown as {
      waitAsync: (
        array: Int32Array,
        index: number,
        value: number,
      ) => { async: false; value: string } | { async: true; value: Promise<string> };
    }
  ).waitAsync(array, index, value);
