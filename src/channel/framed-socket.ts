import type { Socket } from 'node:net';
import { FerryError, toFerryError } from '../errors/index.js';
import { FrameDecoder, MAX_RECORD_BYTES, MIN_RECORD_BYTES } from '../protocol/index.js';
import type { ParallelOpener } from '../protocol/index.js';
import { OpeningStopped, PooledOpening, type ReceiveCipher } from './pooled-opening.js';
import { ReceiveBudget, type ReceiveMemory } from './receive-budget.js';
import type { ReusedReads } from './reused-reads.js';

/** Frames queued unread beyond this many bytes pause the socket, so a slow consumer bounds memory. */
const RECEIVE_HIGH_WATER_BYTES = 1024 * 1024;

/** Marks an error thrown by the record opener, as opposed to the framing's own. */
class OpenFailure extends Error {
  constructor(readonly error: FerryError) {
    super(error.message);
  }
}

interface Waiter {
  resolve: (value: Buffer) => void;
  reject: (err: FerryError) => void;
}

/**
 * The byte-level half of a channel: reads exact byte counts (preamble, handshake) and then
 * length-prefixed records from a socket, with bounded buffering and backpressure in both directions.
 * A write the socket refuses parks its caller until 'drain'; closing fails every parked caller, so
 * nobody waits forever.
 */
export class FramedSocket {
  readonly socket: Socket;
  #raw: Buffer[] = [];
  #rawBytes = 0;
  #rawWant = 0;
  #rawWaiter: Waiter | undefined;
  #decoder: FrameDecoder | undefined;
  #frames: Buffer[] = [];
  #frameBytes = 0;
  #frameWaiter: Waiter | undefined;
  /** Opens each record as it is decoded (SecureChannel's decrypt), so the record's bytes need no buffer of their own. */
  #open: ((record: Buffer) => Buffer) | undefined;
  /** What `#open` threw: handed out after the records before it, in order; nothing after it is read. */
  #openFailure: FerryError | undefined;
  /** Records opened on worker threads (`openInParallel`), delivered in order. */
  #pooled: PooledOpening | undefined;
  /** A record failed (its failure queued in order): what the socket still delivers is not read. */
  #readStopped = false;
  /** The end of the stream, held until the records still with workers are delivered. */
  #endAfterPool: FerryError | undefined;
  #drainWaiters: Array<{ resolve: () => void; reject: (err: FerryError) => void }> = [];
  #error: FerryError | undefined;
  /**
   * From `holdRecords` until `releaseRecords`: the bytes after the handshake, kept as they came, neither decoded
   * nor opened, the socket paused (a peer not yet admitted, PROTOCOL.md §3.2.2).
   */
  #held: Buffer[] | undefined;
  /** True when reads land in one reused buffer (`ReusedReads`): whatever is kept past the call is copied. */
  readonly #reused: boolean;
  /** Received data counted until written, against a server's upload memory (`countReceived`). */
  #budget: ReceiveBudget | undefined;

  /**
   * Reads `socket`'s 'data' events, or, with `reads` (the `onread` the socket was created with), each read
   * from its one reused buffer.
   */
  constructor(socket: Socket, reads?: ReusedReads) {
    this.socket = socket;
    this.#reused = reads !== undefined;
    if (reads === undefined) socket.on('data', (data: Buffer) => this.#onData(data));
    else reads.attach((data) => this.#onData(data));
    socket.on('end', () => this.#onEnd());
    socket.on('close', () => this.#ended(new FerryError('CONNECTION_CLOSED')));
    socket.on('error', (err) => this.#fail(toFerryError(err)));
    socket.on('drain', () => {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w.resolve();
    });
  }

  /** Reads exactly `length` bytes; only valid before `startRecords()`. */
  readExactly(length: number): Promise<Buffer> {
    if (this.#decoder) throw new FerryError('INTERNAL', 'readExactly after startRecords');
    if (this.#rawWaiter) throw new FerryError('INTERNAL', 'concurrent readExactly');
    if (this.#rawBytes >= length) return Promise.resolve(this.#takeRaw(length));
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<Buffer>((resolve, reject) => {
      this.#rawWant = length;
      this.#rawWaiter = { resolve, reject };
    });
  }

  /**
   * Switches to record mode (PROTOCOL.md §4): everything after this point is read as length-prefixed records.
   * With `open`, each record is passed through it synchronously as soon as it is complete, in arrival order,
   * and `nextRecord` yields what `open` returned: the record itself is a view valid only during the call (a
   * reused buffer or the socket's chunk), so `open` must not keep it. A throw from `open` is handed out by
   * `nextRecord` after the records before it, and nothing after it is read.
   */
  startRecords(open?: (record: Buffer) => Buffer): void {
    this.#open = open;
    this.#decoder = new FrameDecoder({ minLength: MIN_RECORD_BYTES, maxLength: MAX_RECORD_BYTES });
    const leftover = this.#raw;
    this.#raw = [];
    this.#rawBytes = 0;
    if (this.#held !== undefined) this.#held.push(...leftover);
    else for (const piece of leftover) this.#decode(piece);
  }

  /**
   * Reads no record until {@link releaseRecords}: the socket is paused, and what was read behind the handshake
   * is kept as it came, not decoded, not decrypted. For a peer whose key is not admitted yet (PROTOCOL.md
   * §3.2.2: refuse before reading a single record): what it pipelined stays in the kernel's buffers, not opened
   * on the event loop (up to 1 MiB a connection before). Call before `startRecords`. A refusal's
   * `discardIncoming` drops it all.
   */
  holdRecords(): void {
    if (this.#decoder) throw new FerryError('INTERNAL', 'holdRecords after startRecords');
    this.#held = [];
    this.socket.pause();
  }

  /** Reads records again after {@link holdRecords}: those held first, in order. */
  releaseRecords(): void {
    const held = this.#held;
    if (held === undefined) return;
    this.#held = undefined;
    for (const piece of held) this.#decode(piece);
    if (!this.#overHighWater()) this.#maybeResume();
  }

  /** The next record body, in arrival order. Rejects once the socket failed or ended. */
  nextRecord(): Promise<Buffer> {
    const frame = this.#frames.shift();
    if (frame) {
      this.#frameBytes -= frame.length;
      this.#maybeResume();
      return Promise.resolve(frame);
    }
    if (this.#openFailure) return Promise.reject(this.#openFailure);
    if (this.#error) return Promise.reject(this.#error);
    if (this.#frameWaiter) throw new FerryError('INTERNAL', 'concurrent nextRecord');
    return new Promise<Buffer>((resolve, reject) => {
      this.#frameWaiter = { resolve, reject };
    });
  }

  /**
   * From now on, file data received is counted against `memory` until written (`ReceiveBudget`), opened here
   * or on workers (`openInParallel`, after this), and the socket is not read while none is left for it. For
   * a server's uploads (docs/SECURITY.md "Upload memory"); call before records are read.
   */
  countReceived(memory: ReceiveMemory): void {
    this.#budget = new ReceiveBudget(memory, () => this.#maybeResume());
  }

  /**
   * From the next record on, opens records on `opener`'s worker threads (issue 14): `cipher` reserves their
   * nonces in arrival order and opens here, at once, the short ones (control messages, REKEY). Plaintexts are
   * still handed out by `nextRecord` in arrival order, and a record that fails stops everything after it.
   */
  openInParallel(opener: ParallelOpener, cipher: ReceiveCipher): void {
    if (this.#open === undefined) throw new FerryError('INTERNAL', 'openInParallel before startRecords');
    const pooled: PooledOpening = new PooledOpening(
      opener,
      cipher,
      {
        deliver: (plaintext) => this.#deliver(plaintext),
        fail: (err) => {
          this.#failOpening(err);
          if (this.#endAfterPool !== undefined) this.#fail(this.#endAfterPool);
        },
        progressed: () => {
          if (this.#endAfterPool !== undefined && !pooled.pending) this.#fail(this.#endAfterPool);
          else this.#maybeResume();
        },
      },
      this.#budget,
    );
    this.#pooled = pooled;
  }

  /** What opening a record failed with, if it did (the session is over then). */
  get openFailure(): FerryError | undefined {
    return this.#openFailure;
  }

  /**
   * Writes buffers as one gathered write. Returns false when the socket's buffer is full: the caller
   * should then `await drained()` before writing more.
   */
  write(...buffers: Buffer[]): boolean {
    if (this.#error) throw this.#error;
    if (buffers.length === 1) return this.socket.write(buffers[0]!);
    this.socket.cork();
    let ok = true;
    for (const b of buffers) ok = this.socket.write(b);
    this.socket.uncork();
    return ok;
  }

  /**
   * Writes `buffer` and resolves once the socket has handed it to the kernel (its write callback), so the
   * caller may reuse it; that wait is the backpressure too. Rejects if the socket fails first.
   */
  writeWhole(buffer: Buffer): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<void>((resolve, reject) => {
      this.socket.write(buffer, (err) => (err ? reject(this.#error ?? toFerryError(err)) : resolve()));
    });
  }

  /** Resolves when the socket can take more data; rejects if it fails first. */
  drained(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /** Fails every waiter with `err` (default: CONNECTION_CLOSED) and destroys the socket. Idempotent. */
  close(err?: FerryError): void {
    this.#fail(err ?? new FerryError('CONNECTION_CLOSED', 'closed locally'));
    this.socket.destroy();
  }

  /** Half-closes after flushing what was written: the peer sees a clean end of stream. */
  end(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.end(() => resolve());
    });
  }

  /**
   * From now on reads and drops whatever the peer sends, and frees the records queued unread. For a session
   * that is over but for the peer's close (a refusal's linger, PROTOCOL.md §3.2.2): before, a refused peer
   * could fill the queue up to RECEIVE_HIGH_WATER_BYTES for the linger's length (1 MiB in each of the 128
   * unauthenticated slots), and the paused socket never saw the peer's end of stream, so the close came at
   * the linger's timeout with bytes unread, a reset. Nothing is decoded or opened: reading costs a copy.
   */
  discardIncoming(): void {
    this.#readStopped = true;
    this.#held = undefined;
    // Blocks gathered for the pool's workers are dropped too (a revoked session's linger): none is posted.
    this.#pooled?.stop();
    this.#budget?.stop();
    this.#frames = [];
    this.#frameBytes = 0;
    this.#raw = [];
    this.#rawBytes = 0;
    if (this.socket.isPaused()) this.socket.resume();
  }

  /** The error that ended this socket, if any. */
  get error(): FerryError | undefined {
    return this.#error;
  }

  #onData(data: Buffer): void {
    if (this.#readStopped) return;
    if (this.#decoder) {
      // Paused: at most the read already under way arrives.
      if (this.#held !== undefined) this.#held.push(this.#reused ? Buffer.from(data) : data);
      else this.#decode(data);
      return;
    }
    // Handshake bytes wait for readExactly: a reused read buffer is overwritten by the next read.
    this.#raw.push(this.#reused ? Buffer.from(data) : data);
    this.#rawBytes += data.length;
    // The handshake is bounded: nobody may send more than a handshake message's worth ahead of it.
    if (this.#rawBytes > 2 * MAX_RECORD_BYTES + 64) {
      this.close(new FerryError('MESSAGE_MALFORMED', `${this.#rawBytes} bytes sent ahead of the handshake`));
      return;
    }
    const waiter = this.#rawWaiter;
    if (waiter && this.#rawBytes >= this.#rawWant) {
      this.#rawWaiter = undefined;
      waiter.resolve(this.#takeRaw(this.#rawWant));
    }
  }

  #decode(data: Buffer): void {
    if (this.#openFailure || this.#readStopped) return;
    const open = this.#open;
    const pooled = this.#pooled;
    try {
      if (pooled !== undefined) {
        try {
          this.#decoder!.pushEach(
            data,
            (record) => pooled.add(record),
            (length) => pooled.place(length),
          );
        } finally {
          pooled.dispatch();
        }
      } else if (open === undefined) {
        // Frames not opened on arrival are queued: copied out of a reused read buffer.
        for (const frame of this.#decoder!.push(data))
          this.#deliver(this.#reused ? Buffer.from(frame) : frame);
      } else {
        this.#decoder!.pushEach(data, (record) => {
          let opened: Buffer;
          try {
            opened = open(record);
          } catch (err) {
            throw new OpenFailure(toFerryError(err));
          }
          // Counted until written (`countReceived`).
          this.#deliver(this.#budget?.countOpened(opened) ?? opened);
        });
      }
    } catch (err) {
      if (err instanceof OpeningStopped) {
        // A record opened here failed: its failure is queued behind the records before it; read no more.
        this.#readStopped = true;
        this.socket.pause();
        return;
      }
      if (err instanceof OpenFailure) {
        // In order: the records opened before this one are still handed out first.
        this.#openFailure = err.error;
        this.socket.pause();
        const waiter = this.#frameWaiter;
        this.#frameWaiter = undefined;
        waiter?.reject(err.error);
        return;
      }
      this.close(toFerryError(err));
      return;
    }
    if (this.#overHighWater() && !this.socket.isPaused()) this.socket.pause();
  }

  #overHighWater(): boolean {
    const pooled = this.#pooled;
    return (
      this.#frameBytes > RECEIVE_HIGH_WATER_BYTES ||
      this.#budget?.starved === true ||
      (pooled !== undefined && pooled.bytes > pooled.highWater)
    );
  }

  #maybeResume(): void {
    if (!this.socket.isPaused() || this.#openFailure || this.#error || this.#held !== undefined) return;
    const pooled = this.#pooled;
    if (this.#frameBytes >= RECEIVE_HIGH_WATER_BYTES / 2 || this.#budget?.starved === true) return;
    if (pooled !== undefined && pooled.bytes > pooled.highWater / 2) return;
    this.socket.resume();
  }

  /** A record opened on a worker (or here, behind them) failed: handed out in order, after what came before. */
  #failOpening(err: FerryError): void {
    this.#openFailure = err;
    this.socket.pause();
    const waiter = this.#frameWaiter;
    this.#frameWaiter = undefined;
    waiter?.reject(err);
  }

  #deliver(frame: Buffer): void {
    const waiter = this.#frameWaiter;
    if (waiter) {
      this.#frameWaiter = undefined;
      waiter.resolve(frame);
    } else {
      this.#frames.push(frame);
      this.#frameBytes += frame.length;
    }
  }

  #takeRaw(length: number): Buffer {
    const all = this.#raw.length === 1 ? this.#raw[0]! : Buffer.concat(this.#raw);
    const out = all.subarray(0, length);
    const rest = all.subarray(length);
    this.#raw = rest.length > 0 ? [rest] : [];
    this.#rawBytes = rest.length;
    return out;
  }

  #onEnd(): void {
    this.#ended(new FerryError('CONNECTION_CLOSED', 'peer ended the connection'));
  }

  /**
   * The stream ended: records still with workers are delivered first, then the end. A record the end cut
   * short is dropped (`endOfStream`): waiting for it would hold the end back for good.
   */
  #ended(err: FerryError): void {
    const pooled = this.#pooled;
    if (pooled?.pending === true && !this.#openFailure) {
      this.#endAfterPool ??= err;
      pooled.endOfStream();
      if (pooled.pending) return;
    }
    this.#fail(err);
  }

  #fail(err: FerryError): void {
    if (this.#error) return;
    this.#error = err;
    this.#pooled?.stop();
    this.#budget?.stop();
    const raw = this.#rawWaiter;
    this.#rawWaiter = undefined;
    raw?.reject(err);
    const frame = this.#frameWaiter;
    this.#frameWaiter = undefined;
    frame?.reject(err);
    const drains = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of drains) w.reject(err);
  }
}
