import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LEAF_BYTES, inWeakChecksumMemory, weakChecksumModule } from '../protocol/index.js';
import { DIRECT_READS_PROGRAM, type DirectReads } from './direct-reads.js';
import { HASH_FILE_PROGRAM } from './hash-file-program.js';
import { OneWorkerThread } from './one-worker-thread.js';

/**
 * The thread's whole program: the RFC 6962 leaf hash, SHA-256(0x00 || bytes), of each named range of a
 * shared buffer, read in place (no copy), the hashes back in one transferred buffer. Plain CommonJS with
 * node:crypto alone, so it runs the same from the sources, from dist/ and from the CLI's bundle, with nothing
 * to load but itself.
 */
const PROGRAM = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { write } = require('node:fs');
const PREFIX = Buffer.from([0]);
const LEAF = ${LEAF_BYTES};
const hashInto = (out, at, bytes) =>
  out.set(createHash('sha256').update(PREFIX).update(bytes).digest(), at);
${DIRECT_READS_PROGRAM}
// The weak checksum's module (simd-weak-checksum.ts) over the memory it sums, given at the start
// (workerData.weakChecksum: its compiled module and shared memory), or undefined without one.
const weakChecksumOf = (() => {
  const given = workerData && workerData.weakChecksum;
  if (!given) return undefined;
  try {
    const { exports } = new WebAssembly.Instance(given.module, { env: { memory: given.memory } });
    return exports.checksum;
  } catch {
    return undefined;
  }
})();
parentPort.on('message', (job) => {
  if (job.table !== undefined) return hashFile(job);
  if (job.fd !== undefined) return readLeaves(job);
  const { id, shared, starts, length } = job;
  const out = new Uint8Array(32 * starts.length);
  for (let i = 0; i < starts.length; i++) hashInto(out, 32 * i, new Uint8Array(shared, starts[i], length));
  parentPort.postMessage({ id, hashes: out.buffer }, [out.buffer]);
});
// A piece of a file read into a range of a shared buffer, then the leaf hash of each of its leaves (the last
// may be short), the hashes back in one transferred buffer; on a failed or short read, why instead. Read on
// libuv's pool, not here: the next jobs' reads go on while this thread hashes, as they did before, with no
// hop through the asking thread's event loop in between; around the page cache where it can (openReads), into
// the room the caller lent past the piece when the end of the file asks a rounded-up read. With writeFd, once
// read, its first writeLength bytes are also written at the same position through that descriptor, on the
// pool while they are hashed (both only read them), and the answer waits for the write: written true, or why
// it failed. With weak (its bytes lie in the weak checksum's memory, at their offsets), each leaf's weak
// checksum too, taken right after its hash while its bytes are in this core's cache, back in a second buffer;
// none if the module traps (the caller then takes them itself).
function readLeaves({ id, fd, position, shared, start, length, room, direct, writeFd, writeLength, weak }) {
  const bytes = new Uint8Array(shared, start, length);
  const reads = openReads(fd, direct);
  reads.read(new Uint8Array(shared, start, Math.max(length, room || 0)), length, position, (why) => {
    reads.close();
    const directBytes = reads.directBytes;
    if (why !== undefined) return parentPort.postMessage({ id, failed: why, directBytes });
    let written = writeFd === undefined ? false : undefined;
    let out;
    let sums;
    const answer = () => {
      if (out === undefined || written === undefined) return;
      const weak = sums && sums.buffer;
      const transfer = weak ? [out.buffer, weak] : [out.buffer];
      parentPort.postMessage({ id, hashes: out.buffer, weak, written, directBytes }, transfer);
    };
    if (written === undefined)
      writeAll(writeFd, bytes.subarray(0, writeLength), position, (err) => {
        written = err ? String(err.code || err) : true;
        answer();
      });
    const count = Math.ceil(length / LEAF);
    const hashed = new Uint8Array(32 * count);
    let summed = weak && weakChecksumOf ? new Uint32Array(count) : undefined;
    for (let i = 0; i < count; i++) {
      const end = Math.min(length, (i + 1) * LEAF);
      hashInto(hashed, 32 * i, bytes.subarray(i * LEAF, end));
      if (summed === undefined) continue;
      try {
        summed[i] = weakChecksumOf(start + i * LEAF, start + end) >>> 0;
      } catch {
        summed = undefined;
      }
    }
    out = hashed;
    sums = summed;
    answer();
  });
}
// Writes all of bytes at position, resuming short writes; done(err) or done(null) once all landed.
function writeAll(fd, bytes, position, done) {
  write(fd, bytes, 0, bytes.length, position, (err, n) => {
    if (err) return done(err);
    if (n < bytes.length) return writeAll(fd, bytes.subarray(n), position + n, done);
    done(null);
  });
}
${HASH_FILE_PROGRAM}
`;

/**
 * Bytes of a job below which a thread not yet started is not started for it (`LeafHashThread.worthFor`):
 * starting it costs ~30 ms of CPU and ~70 ms before its first answer on two busy cores, SHA-256 of these
 * bytes ~3 ms on the caller's thread (issue 16: a sync of 10 changed files of 4-64 KiB waited ~70 ms for the
 * thread its first delta started, 0.15 of its time).
 */
export const THREAD_START_MIN_BYTES = 4 * 1024 * 1024;

/**
 * Leaf hashes of ranges of a SharedArrayBuffer on a worker thread of its own, while the caller's thread
 * does other work (issue 16: a delta upload's server hashed every byte of a shifted copy, and its whole old
 * file while signing it, on its event loop, the client idle, one of two cores unused): the signing's leaves
 * (`signLeaves`) and half of a shifted copy's (`delta-old-file.ts`), and a delta upload's new file, which it reads
 * itself (`hashFile`, a piece per turn). One thread per process, started on first use and shared in turn by
 * every caller, each with at most one job queued; it does not keep the process alive. A speed-up, never a
 * requirement: a caller whose job fails (the thread could not start or died) hashes the bytes itself.
 */
export class LeafHashThread {
  /** How its reads of a file go around the page cache (`direct-reads.ts`). */
  readonly #direct: DirectReads;
  readonly #thread = new OneWorkerThread<
    LeafHashJob | FileHashJob | ReadLeavesJob,
    LeafHashAnswer,
    LeafHashAnswer
  >(
    // The weak checksum's module and memory, each thread given them as it starts (`readLeaves`).
    () => new Worker(PROGRAM, { eval: true, workerData: { weakChecksum: weakChecksumModule() } }),
    'leaf hash thread',
    (answer) => answer,
  );

  /**
   * `directReads`: how its reads of files go around the page cache (`DirectReads`; by default, unless the
   * file is found cached).
   */
  constructor(options: { readonly directReads?: DirectReads } = {}) {
    this.#direct = options.directReads ?? 'uncached';
  }

  /** Runs a job that reads a file, counting the bytes it read around the page cache. */
  async #read(job: FileHashJob | ReadLeavesJob): Promise<LeafHashAnswer> {
    const answer = await this.#thread.run(job);
    DIRECT_READ_COUNTERS.bytes += answer.directBytes ?? 0;
    return answer;
  }

  /**
   * The leaf hashes of the `length`-byte ranges of `shared` starting at `starts`, in order, 32 bytes each.
   * The caller leaves those bytes unchanged until the promise settles.
   */
  hashLeaves(shared: SharedArrayBuffer, starts: readonly number[], length: number): Promise<Buffer> {
    return this.#thread
      .run({ shared, starts, length })
      .then((answer) => Buffer.from(answer.hashes ?? new ArrayBuffer(0)));
  }

  /**
   * Hashes the leaves of the file open as `fd` (lent: the caller keeps it open until this settles) from its
   * start to `size`, `pieceBytes` at a time, each piece read on libuv's pool for the thread (a few ahead,
   * around the page cache unless the file is cached: `direct-reads.ts`) and hashed on it, with no turn of the
   * caller's event loop between pieces (issue 16: a delta upload's client hashed its new file ahead through
   * its event loop, a read on libuv's pool then a job here per piece, and its busy loop left the thread idle
   * between pieces). Each leaf's hash goes into `table` (32 bytes at 32 × its index); `state[0]` is the count
   * of leaves done from the start, published (and `Atomics.notify`'d) after each piece; setting `state[1]`
   * stops it: no read is asked after it (those in flight end unhashed). Other jobs are answered between
   * pieces. Resolves with why it ended short (a read failed, the file ended early), or undefined once done or
   * stopped; rejects if the thread failed.
   *
   * With `writeThrough` (issue 16: a delta's receiver read its old file once to hash it and again to place its
   * leaves into the new file), the whole leaves of each piece below `end` are also written where they lie
   * through `fd` (lent, opened for direct I/O: the thread reads into page-aligned memory), from the very
   * bytes hashed, while the next piece is read; `state` then has 4 entries: `state[2]` counts the leaves
   * landed in order from the start, `state[3]` is set once a write failed (no write is made after it, and the
   * count stops before it). Writing vouches for nothing: the caller decides which leaves count. It resolves
   * only once no write is in flight, so the caller may give the descriptor back then.
   */
  async hashFile(
    fd: number,
    size: number,
    pieceBytes: number,
    table: SharedArrayBuffer,
    state: Int32Array,
    writeThrough?: { readonly fd: number; readonly end: number },
  ): Promise<string | undefined> {
    if (!(state.buffer instanceof SharedArrayBuffer)) throw new RangeError('the state must be shared');
    if (writeThrough !== undefined && state.length < 4)
      throw new RangeError('writing through needs 4 states');
    const answer = await this.#read({
      fd,
      size,
      pieceBytes,
      table,
      state: state.buffer,
      direct: this.#direct,
      ...(writeThrough && { writeFd: writeThrough.fd, writeEnd: writeThrough.end }),
    });
    return answer.failed;
  }

  /**
   * Reads `bytes.length` bytes of the file open as `fd` (lent: the caller keeps it open until this settles)
   * from `position` into `bytes` (a view of shared memory), asked of libuv's pool by the thread itself, then
   * gives the leaf hashes of its leaves from its start (the last may be short), 32 bytes each in order (issue
   * 16: a signing's pieces were read on the pool for the caller's event loop, then handed to this thread
   * through it, a hop each way per piece). The reads of the jobs queued behind go on while the thread hashes.
   * Read around the page cache unless the file is cached (`direct-reads.ts`): `roomBytes` from `bytes`' start
   * (what lies there past `bytes` may be overwritten) lets a piece that ends off the block be read rounded
   * up to it, and so direct to its end. Undefined when it could not (memory that is not shared, a read that
   * failed or found the file shorter, the thread failed): the caller then reads and hashes the piece itself,
   * and its read reports what went wrong as it always did.
   *
   * With `weak` too, when `bytes` lie in the weak checksum's memory (`takeWeakChecksumBuffer`, as a signing's
   * pieces do): each leaf's weak checksum (`weakChecksum`, PROTOCOL.md §5.15), taken by the same compiled
   * module right after the leaf's hash, while its bytes are in the thread's cache (issue 16: the signing's
   * event loop took them after, ~75 ms per GiB of the critical path of a cold delta download's server);
   * undefined otherwise (the caller takes them).
   */
  async readLeaves(
    fd: number,
    position: number,
    bytes: Buffer,
    roomBytes = bytes.length,
  ): Promise<ReadLeaves | undefined> {
    if (!(bytes.buffer instanceof SharedArrayBuffer) || bytes.length === 0) return undefined;
    const answer = await this.#read(this.#readJob(fd, position, bytes, roomBytes)).catch(() => undefined);
    return answer?.hashes === undefined ? undefined : readLeavesOf(answer.hashes, answer.weak);
  }

  /**
   * As `readLeaves`, and once the piece is read its first `writeThrough.length` bytes are also written at
   * `position` through `writeThrough.fd` (lent, as `fd`: kept open until this settles; opened for direct I/O
   * if the caller likes, the shared memory of a signing's pieces being page-aligned), on libuv's pool while
   * the thread hashes them: both only read those bytes, so what lands is what was hashed (issue 16: a delta
   * upload's server placed each piece of its old file from its event loop after the hashing, and the piece's
   * buffer waited for that write before its next read). The answer waits for the write: `written` true once
   * it landed, false when it failed. Undefined as for `readLeaves`: whether anything was written is then
   * unknown (a thread that failed may have), so the caller counts nothing of it as written. The weak
   * checksums as for `readLeaves`.
   */
  async readLeavesWritingThrough(
    fd: number,
    position: number,
    bytes: Buffer,
    writeThrough: { readonly fd: number; readonly length: number },
    roomBytes = bytes.length,
  ): Promise<(ReadLeaves & { readonly written: boolean }) | undefined> {
    if (!(bytes.buffer instanceof SharedArrayBuffer) || bytes.length === 0) return undefined;
    if (writeThrough.length > bytes.length) throw new RangeError('a write through past the piece read');
    const job = {
      ...this.#readJob(fd, position, bytes, roomBytes),
      writeFd: writeThrough.fd,
      writeLength: writeThrough.length,
    };
    const answer = await this.#read(job).catch(() => undefined);
    if (answer?.hashes === undefined) return undefined;
    return { ...readLeavesOf(answer.hashes, answer.weak), written: answer.written === true };
  }

  #readJob(fd: number, position: number, bytes: Buffer, roomBytes: number): ReadLeavesJob {
    if (roomBytes < bytes.length || bytes.byteOffset + roomBytes > bytes.buffer.byteLength)
      throw new RangeError(`room of ${roomBytes} bytes for a piece of ${bytes.length}`);
    const { buffer, byteOffset: start, length } = bytes;
    return {
      fd,
      position,
      shared: buffer as SharedArrayBuffer,
      start,
      length,
      room: roomBytes,
      direct: this.#direct,
      weak: inWeakChecksumMemory(bytes),
    };
  }

  /**
   * The leaf hashes of the whole leaves of `bytes` from its start (a view of shared memory, read in place),
   * 32 bytes each in order; undefined when it could not (no whole leaf, memory that is not shared, too few
   * bytes to start the thread for: `worthFor`, the thread failed): the caller hashes those bytes itself, as
   * it would without the thread. The one way the callers that hash a buffer's leaves ask (`leafHashesOf`, a
   * delta upload's scan).
   */
  async wholeLeaves(bytes: Buffer): Promise<Buffer | undefined> {
    const whole = Math.floor(bytes.length / LEAF_BYTES);
    if (whole === 0 || !(bytes.buffer instanceof SharedArrayBuffer) || !this.worthFor(bytes.length))
      return undefined;
    const starts = Array.from({ length: whole }, (_, i) => bytes.byteOffset + i * LEAF_BYTES);
    return this.hashLeaves(bytes.buffer, starts, LEAF_BYTES).catch(() => undefined);
  }

  /**
   * Starts the thread now, if it is not, so it has loaded by the first job: a thread started by its first job
   * made that job wait ~30 ms for it (issue 16: a delta's first signature record on the server, a delta
   * download's first window on the client). It does not keep the process alive.
   */
  warm(): void {
    this.#thread.start();
  }

  /** Whether the thread is started (by `warm` or a first job) and has not stopped. */
  get running(): boolean {
    return this.#thread.running;
  }

  /**
   * Whether a job over `bytes` bytes is worth the thread: it is running, or the job is large enough to pay
   * for starting it (THREAD_START_MIN_BYTES). A caller told no hashes those bytes itself.
   */
  worthFor(bytes: number): boolean {
    return this.running || bytes >= THREAD_START_MIN_BYTES;
  }

  /** Stops the thread; jobs in flight fail (their callers hash on their own). Idempotent. */
  close(): Promise<void> {
    return this.#thread.close();
  }
}

/** A job of the leaf hash thread: the ranges of `shared` to hash. */
interface LeafHashJob {
  readonly shared: SharedArrayBuffer;
  readonly starts: readonly number[];
  readonly length: number;
}

/** A job of the leaf hash thread: a file's leaves, read there (`LeafHashThread.hashFile`). */
interface FileHashJob {
  readonly fd: number;
  readonly size: number;
  readonly pieceBytes: number;
  readonly table: SharedArrayBuffer;
  readonly state: SharedArrayBuffer;
  /** How to read around the page cache (`direct-reads.ts`). */
  readonly direct: DirectReads;
  /** Where the whole leaves below `writeEnd` are written through as they are hashed (`hashFile`). */
  readonly writeFd?: number;
  readonly writeEnd?: number;
}

/** What `LeafHashThread.readLeaves` gives for a piece it read. */
export interface ReadLeaves {
  /** Each leaf's hash, 32 bytes in order. */
  readonly hashes: Buffer;
  /** Each leaf's weak checksum, in order; undefined when the thread could not take them. */
  readonly weak: Uint32Array | undefined;
}

function readLeavesOf(hashes: ArrayBuffer, weak: ArrayBuffer | undefined): ReadLeaves {
  return { hashes: Buffer.from(hashes), weak: weak === undefined ? undefined : new Uint32Array(weak) };
}

/** A job of the leaf hash thread: a piece of a file read into `shared` for it, then hashed (`readLeaves`). */
interface ReadLeavesJob {
  readonly fd: number;
  readonly position: number;
  readonly shared: SharedArrayBuffer;
  readonly start: number;
  readonly length: number;
  /** Bytes from `start` it may read into (at least `length`): a direct read of the file's end rounds up. */
  readonly room: number;
  readonly direct: DirectReads;
  /** Where its first `writeLength` bytes are written through once read (`readLeavesWritingThrough`). */
  readonly writeFd?: number;
  readonly writeLength?: number;
  /** Whether `shared` is the weak checksum's memory, so the thread takes the leaves' weak checksums too. */
  readonly weak: boolean;
}

/** The thread's answer: the hashes of a `LeafHashJob` or `ReadLeavesJob`, or how a `FileHashJob` ended. */
interface LeafHashAnswer {
  readonly id: number;
  readonly hashes?: ArrayBuffer;
  /** A `ReadLeavesJob`'s weak checksums (4 bytes a leaf), when taken. */
  readonly weak?: ArrayBuffer;
  readonly failed?: string;
  /** A `ReadLeavesJob` with a write through: true once it landed, else why it failed. */
  readonly written?: true | string;
  /** Bytes of a job that reads a file read around the page cache (`direct-reads.ts`). */
  readonly directBytes?: number;
}

/**
 * Bytes the leaf hash threads of this process read around the page cache (`direct-reads.ts`), for tests and
 * benches: that the direct way was the one taken.
 */
export const DIRECT_READ_COUNTERS = { bytes: 0 };

/** The process's one leaf hash thread (see LeafHashThread). */
export const LEAF_HASH_THREAD = new LeafHashThread();

/**
 * The leaf hash threads that work made of independent jobs is spread over (a signing's pieces,
 * `signLeaves`): the process's one and, on a machine of more than one core, a second, started on its first
 * job (or `warm`) like the first (issue 16: a WARM delta download's server signed its 1 GiB file at
 * ~0.7 GB/s on one thread, SHA-256 alone 1.74 GB/s, while the other core, the client's, was idle).
 */
export const LEAF_HASH_THREADS: readonly LeafHashThread[] =
  availableParallelism() > 1 ? [LEAF_HASH_THREAD, new LeafHashThread()] : [LEAF_HASH_THREAD];
