import { FerryError, isFerryError } from '../errors/index.js';
import type { DeltaMatcher } from '../protocol/index.js';
import { UploadSenderMachine, type UploadEffect, type UploadOutcome } from '../machines/index.js';
import {
  hashChunks,
  streamChunks,
  streamChunksPooled,
  streamDeltaChunks,
  LeafHashesAhead,
  type ChunkHashCache,
  type SourceFile,
} from '../transfer/index.js';
import { ArrivingUploadSignature } from './arriving-upload-signature.js';
import type { ClientSession } from './client-session.js';
import type { PendingUpload, UploadResult } from './pending-upload.js';
import { putDataSink } from './put-data-sink.js';
import { reportSourceChanged } from './report-source-changed.js';
import { ScanHashesAhead } from './scan-hashes-ahead.js';
import { sendUploadOffer } from './send-upload-offer.js';
import { deltaWanted } from './upload-delta-wanted.js';
import { PARALLEL_MIN_BYTES, type UploadOptions } from './upload-options.js';

/** What an upload's drivers (the primary and any joined streams) share. */
export interface UploadJob {
  readonly source: SourceFile;
  readonly remotePath: string;
  readonly options: UploadOptions;
  readonly cache: ChunkHashCache | undefined;
}

/**
 * Applies an UploadSenderMachine's effects on one session: opens its refs, hashes and streams the source,
 * sends and receives. The machine's state says who owns the ref: until PUT_END is sent, `begin` does (and
 * closes it on failure); from then on the `done` it returns.
 */
export class UploadDriver {
  readonly #session: ClientSession;
  readonly #machine: UploadSenderMachine;
  readonly #job: UploadJob;
  /** Set on a joined stream: the primary's join token, sent with JOIN (PROTOCOL.md §5.13.2). */
  readonly #joinWith: Buffer | undefined;
  /** On the primary: the join token its PUT_ACCEPT issued, handed to the streams that join it. */
  #issuedJoinToken: Buffer | undefined;
  /** A delta upload's matcher over the old file's signature (PROTOCOL.md §5.15), set by PUT_ACCEPT DELTA. */
  #matcher: DeltaMatcher | undefined;
  /** A delta upload's leaf hashes of the new file, taken while the signature arrived. */
  #ahead: LeafHashesAhead | undefined;
  /** A delta upload's signature as it arrives (the matcher's), set with `#matcher`. */
  #arrival: ArrivingUploadSignature | undefined;

  constructor(session: ClientSession, machine: UploadSenderMachine, job: UploadJob, joinWith?: Buffer) {
    this.#session = session;
    this.#machine = machine;
    this.#job = job;
    this.#joinWith = joinWith;
  }

  /** Runs the upload up to its PUT_END; `done` then waits for the server's answer. */
  async begin(): Promise<PendingUpload> {
    const machine = this.#machine;
    const { cache } = this.#job;
    let answer: readonly UploadEffect[];
    try {
      answer = await this.#runUntilEnded(machine.start());
    } finally {
      if (!machine.ended) {
        await cache?.close();
        this.#session.closeRef(machine.ref);
      }
    }
    const ref = machine.ref;
    const done = (async (): Promise<UploadResult> => {
      try {
        const outcome = await this.#run(answer);
        await cache?.remove();
        // An identical file was left untouched: nothing was verified in this run, so no progress to report.
        if (!outcome.identical) this.#job.options.onVerified?.(outcome.size, outcome.size);
        return outcome;
      } finally {
        await cache?.close();
        this.#session.closeRef(ref);
      }
    })();
    return { ref, done: quiet(done) };
  }

  /** Runs a joined stream whole (PROTOCOL.md §5.13): file bytes it sent. */
  async join(): Promise<number> {
    try {
      return (await this.#run(this.#machine.start())).sentBytes;
    } finally {
      this.#session.closeRef(this.#machine.ref);
    }
  }

  /** Applies effects until the machine waits for the answer to its PUT_END; returns the effects left. */
  async #runUntilEnded(effects: readonly UploadEffect[]): Promise<readonly UploadEffect[]> {
    const queue = [...effects];
    for (let effect = queue.shift(); effect; effect = queue.shift()) {
      if (effect.kind === 'receive' && this.#machine.ended) return [effect, ...queue];
      if (effect.kind === 'done') throw new FerryError('INTERNAL', 'upload done before its PUT_END');
      queue.push(...(await this.#apply(effect)));
    }
    throw new FerryError('INTERNAL', 'upload stopped before its PUT_END');
  }

  /** Applies effects until the machine is done. */
  async #run(effects: readonly UploadEffect[]): Promise<UploadOutcome> {
    const queue = [...effects];
    for (let effect = queue.shift(); effect; effect = queue.shift()) {
      if (effect.kind === 'done') return effect.outcome;
      queue.push(...(await this.#apply(effect)));
    }
    throw new FerryError('INTERNAL', 'upload stopped without an outcome');
  }

  async #apply(effect: Exclude<UploadEffect, { kind: 'done' }>): Promise<readonly UploadEffect[]> {
    const machine = this.#machine;
    const session = this.#session;
    const { source, options, cache } = this.#job;
    switch (effect.kind) {
      case 'offer':
        this.#matcher = undefined;
        this.#arrival = undefined;
        machine.offered(
          sendUploadOffer(
            session,
            source,
            this.#job.remotePath,
            machine.hashes.chunkBytes,
            options,
            effect.fresh,
            this.#joinWith,
          ),
        );
        return [];
      case 'send':
        // Giving up a ref is one thing however it happens (PROTOCOL.md §5.9): closed here, then CANCEL, whose
        // write keeps its place before the next offer.
        if (effect.message.type === 'CANCEL') session.cancelRef(effect.message.ref);
        else await session.send(effect.message);
        return [];
      case 'accepted': {
        options.onAccepted?.({ heldBytes: effect.heldBytes, restarted: effect.restarted, size: source.size });
        // A pipelined file is answered once all of it was sent: its PUT_DONE reports it whole.
        if (!machine.ended)
          session.onProgress(machine.ref, (verified) => options.onVerified?.(verified, source.size));
        return [];
      }
      case 'hash':
        return this.#reading(
          hashChunks(source, effect.chunks, machine.hashes, (index) => cache?.get(index)),
          () => machine.hashed(),
        );
      case 'stream':
        return this.#reading(this.#stream(effect.chunks, effect.missing), (sent) => machine.sent(sent));
      case 'check-unchanged':
        return this.#reading(source.assertUnchanged(), () => machine.unchanged());
      case 'receive': {
        const message = await session.take(machine.ref);
        if (message.type === 'PUT_ACCEPT' && this.#joinWith === undefined)
          this.#issuedJoinToken = message.joinToken;
        if (message.type === 'PUT_ACCEPT' && message.delta) await this.#takeSignature(message);
        return machine.received(message);
      }
      case 'fail':
        if (effect.report) await reportSourceChanged(session, machine.ref, effect.error);
        throw effect.error;
    }
  }

  /** Waits for `work` (which reads the source), then feeds its result; a source that changed goes to the machine. */
  async #reading<T>(
    work: Promise<T>,
    then: (value: T) => readonly UploadEffect[],
  ): Promise<readonly UploadEffect[]> {
    let value: T;
    try {
      value = await work;
    } catch (err) {
      if (isFerryError(err, 'SOURCE_CHANGED') && !err.remote) return this.#machine.sourceChanged(err);
      throw err;
    }
    return then(value);
  }

  /**
   * PROTOCOL.md §5.15.2: the DELTA_BLOCKS records that follow a PUT_ACCEPT with DELTA, through the
   * DeltaBlocksReceiver machine; a server must not send them to an offer that did not ask.
   */
  async #takeSignature(accept: { ref: number }): Promise<void> {
    if (!deltaWanted(this.#job.source.size, this.#job.options, this.#joinWith))
      throw new FerryError('MESSAGE_UNEXPECTED', 'PUT_ACCEPT DELTA for an offer without DELTA');
    // The new file's leaves are hashed while the server signs (delta-streamer.ts), and the chunks are
    // scanned as the records arrive (§5.15.2: chunks of copies alone before the last record, PUT_DATA only
    // after it); the scan takes these hashes instead of hashing again.
    const ahead = LeafHashesAhead.start(this.#job.source);
    // The hashing ahead goes on past the last record: chunks in place after it are then still sent unread
    // (issue 16: stopped there, the rest of a file changed in place was read and hashed chunk by chunk
    // through the scan, after the server's signing was over). It stops when the scan catches up with it, when
    // the stream ends (`#stream`), or when the signature fails.
    const arrival = await ArrivingUploadSignature.start(
      () => this.#session.take(accept.ref),
      () => Promise.resolve(),
    ).catch(async (err: unknown) => {
      await ahead.stop();
      throw err;
    });
    arrival.whole.catch(() => ahead.stop());
    this.#matcher = arrival.matcher;
    this.#arrival = arrival;
    this.#ahead = ahead;
  }

  /** Sends the chunks `chunks` yields on this session and, for a large file, on joined streams too. */
  async #stream(chunks: Iterator<number>, missing: number): Promise<number> {
    const { source, options, cache } = this.#job;
    const { hashes, ref } = this.#machine;
    const onChunk = (index: number, hash: Buffer): Promise<void> | undefined =>
      cache?.record({ index, hash });
    const matcher = this.#matcher;
    if (matcher) {
      // PROTOCOL.md §5.15.3: one stream; the bytes the server lacks are few, so no joined streams.
      const session = this.#session;
      // The cache's records go behind the stream (positional appends) and are waited for once it is over:
      // a chunk of copies alone is a few small messages, and a wait for each record's write held the next.
      const recording: Promise<void>[] = [];
      const recordBehind = (index: number, hash: Buffer): void => {
        const record = onChunk(index, hash);
        if (record === undefined) return;
        record.catch(() => undefined); // awaited below
        recording.push(record);
      };
      const streaming = streamDeltaChunks(source, {
        chunkBytes: hashes.chunkBytes,
        chunks,
        hashes,
        matcher,
        signal: options.signal,
        onChunk: recordBehind,
        ahead: this.#ahead,
        // The download's policy of hashing a scan's leaves ahead, on the leaf hash thread (issue 16).
        scanAhead: new ScanHashesAhead(),
        arriving: this.#arrival,
        sink: {
          sendCopy: (offset, oldOffset, length) =>
            session.send({ type: 'PUT_COPY', ref, offset, oldOffset, length }),
          sendData: (offset, data) => session.send({ type: 'PUT_DATA', ref, offset, data }),
          sendChunk: (index, chunkHash) => session.send({ type: 'PUT_CHUNK', ref, index, chunkHash }),
        },
      });
      // Over before the cache may be closed, either way; a record that failed fails the upload, as before.
      const streamed = await streaming.finally(() => Promise.allSettled([...recording, this.#ahead?.stop()]));
      await Promise.all(recording);
      // Every record is taken before PUT_END (§5.15.2), and a signature that failed fails the upload.
      await this.#arrival?.whole;
      options.onDelta?.({ literalBytes: streamed.literalBytes, size: source.size });
      return streamed.bytes;
    }
    const pool = options.sealPool;
    const sendChunks = (session: ClientSession, sendRef: number): Promise<number> =>
      pool
        ? streamChunksPooled(source, {
            chunkBytes: hashes.chunkBytes,
            chunks,
            hashes,
            signal: options.signal,
            sink: session.pooledSink(sendRef, pool, onChunk),
          })
        : streamChunks(source, {
            chunkBytes: hashes.chunkBytes,
            chunks,
            hashes,
            signal: options.signal,
            sink: putDataSink(session, sendRef),
            onChunk,
          });
    if (this.#joinWith) return sendChunks(this.#session, ref);
    const joinToken = this.#issuedJoinToken;
    const parallel =
      joinToken !== undefined &&
      missing >= 2 &&
      source.size >= (options.parallelMinBytes ?? PARALLEL_MIN_BYTES);
    const streams = parallel && options.extraStreams ? await options.extraStreams() : [];
    // One cursor over the missing chunks, shared by the primary and the joined streams (PROTOCOL.md §5.13).
    const counts = await Promise.all([
      sendChunks(this.#session, ref),
      ...streams.map((extra) =>
        new UploadDriver(
          extra,
          new UploadSenderMachine(source.size, hashes.chunkBytes, { join: { chunks, hashes } }),
          this.#job,
          joinToken,
        ).join(),
      ),
    ]);
    return counts.reduce((sum, n) => sum + n, 0);
  }
}

/** Marks a promise handled so a caller that fails before awaiting it causes no unhandled rejection. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
