// The extra sessions a send or a get opens beside its primary: the streams a large file is striped over,
// and the lanes that carry a sync's deltas side by side (each its own session, since the server takes one
// upload at a time per session).
import { setMaxListeners } from 'node:events';
import { ClientSession } from './client-session.js';
import type { ConnectOptions, JobResult, SendFilesOptions, UploadJob } from './send-files.js';

/**
 * Default number of TCP connections for a large file: one. Measured here (bench/README.md), one connection
 * is as fast as four on loopback (both sides are CPU-bound), already 3.4x scp on a 40 ms link, and keeps the
 * receiver's peak memory near 115 MiB; four reach 4.2x scp on that link but raise the receiver's peak to
 * about 127 MiB. `--streams N` is for long fat links with per-flow limits (PROTOCOL.md §5.13).
 */
export const DEFAULT_STREAMS = 1;

/** The extra sessions of a send, opened on first need and closed with the primary. */
export class ExtraStreams {
  readonly #options: ConnectOptions;
  readonly #signal: SessionsSignal;
  readonly size: number;
  #opening: Promise<ClientSession[]> | undefined;

  constructor(options: ConnectOptions, size: number) {
    this.size = Math.max(0, size);
    this.#signal = new SessionsSignal(options.signal, this.size);
    this.#options = { ...options, signal: this.#signal.signal };
  }

  /** Connects the extra sessions (once; later calls share the result). */
  open(): Promise<ClientSession[]> {
    this.#opening ??= Promise.all(
      Array.from({ length: this.size }, () => ClientSession.connect(this.#options.server, this.#options)),
    );
    return this.#opening;
  }

  /** Ends every extra session cleanly. */
  async end(): Promise<void> {
    if (!this.#opening) return;
    await Promise.all((await this.#opening).map((s) => s.end()));
  }

  /** Closes every extra session at once. Idempotent. */
  close(): void {
    void this.#opening?.then(
      (sessions) => sessions.forEach((s) => s.close()),
      () => undefined,
    );
    this.#signal.release();
  }
}

/**
 * A signal of our own for `sessions` sessions to listen on: it aborts with the caller's, and at `release`
 * (the extras closed) so that one still connecting or in its handshake ends at once rather than at its
 * timeouts. Each session listens for the abort while it connects and for its whole life: on the caller's
 * signal, `--streams 11` and more went past node's 10 listeners and printed a "possible EventTarget memory
 * leak" warning on the user's terminal. Ours is allowed the listeners its sessions add and puts one on the
 * caller's, taken off at `release` (not `AbortSignal.any`, which keeps what it makes for as long as the
 * caller's signal lives).
 */
class SessionsSignal {
  readonly signal: AbortSignal | undefined;
  readonly #release: () => void;

  constructor(parent: AbortSignal | undefined, sessions: number) {
    if (sessions === 0) {
      this.signal = parent;
      this.#release = () => undefined;
      return;
    }
    const ours = new AbortController();
    setMaxListeners(2 * sessions + 1, ours.signal);
    const abort = (): void => ours.abort(parent?.reason);
    if (parent?.aborted) abort();
    else parent?.addEventListener('abort', abort, { once: true });
    this.signal = ours.signal;
    this.#release = () => {
      parent?.removeEventListener('abort', abort);
      ours.abort();
    };
  }

  release(): void {
    this.#release();
  }
}

/**
 * The queues of {@link SendFilesOptions.deltaSessions}: each an extra session of its own (connected on its
 * first job) that runs its jobs one after another, as the primary would, while the primary and the other
 * lanes go on. Delta jobs are dealt in turn to the lanes and the primary; no lane when the option is 0 or
 * fewer than four jobs left to do replace a file.
 */
export class DeltaLanes {
  readonly #lanes: DeltaLane[] = [];
  #next = 0;

  constructor(
    options: SendFilesOptions,
    jobs: readonly UploadJob[],
    results: readonly (JobResult | undefined)[],
  ) {
    const delta = (options.delta ?? options.overwrite) === true;
    const pending = jobs.filter((job, i) => results[i] === undefined && delta && isDeltaJob(job)).length;
    // Each lane takes at least two of the deltas (the primary its share): a handshake for one delta costs
    // more than it saves.
    const count = Math.min(options.deltaSessions ?? 0, Math.floor(pending / 2) - 1);
    for (let i = 0; i < count; i++) this.#lanes.push(new DeltaLane(options));
  }

  /**
   * The lane a job goes on, or undefined for the primary session. The primary takes its turn too: while it
   * runs one delta, each lane runs the one dealt to it before.
   */
  laneFor(job: UploadJob): DeltaLane | undefined {
    if (this.#lanes.length === 0 || !isDeltaJob(job)) return undefined;
    return this.#lanes[this.#next++ % (this.#lanes.length + 1)];
  }

  /** Resolves once every job given to a lane so far settled (whatever its outcome). */
  async settled(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.settled));
  }

  /** Ends every lane's session cleanly once its jobs are done. */
  async end(): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.end()));
  }

  /** Closes every lane's session at once. Idempotent. */
  close(): void {
    for (const lane of this.#lanes) lane.close();
  }
}

function isDeltaJob(job: UploadJob): boolean {
  return job.kind === 'file' && job.replaces === true;
}

/** One extra session and the chain of the jobs given to it. */
class DeltaLane {
  readonly #session: ExtraStreams;
  /** Settles once the last job given so far was begun (its PUT_END sent) or failed to begin. */
  #tail: Promise<unknown> = Promise.resolve();
  /** Settles once every job given so far is done, or failed. */
  settled: Promise<unknown> = Promise.resolve();

  constructor(options: ConnectOptions) {
    this.#session = new ExtraStreams(options, 1);
  }

  /**
   * Queues `begin` behind the lane's earlier jobs and returns at once: its `done` settles with the job. A
   * session that cannot be opened fails the job like a lost primary (the run retries).
   */
  start(
    begin: (session: ClientSession) => Promise<{ done: Promise<JobResult> }>,
  ): Promise<{ done: Promise<JobResult> }> {
    const begun = this.#tail.then(async () => begin((await this.#session.open())[0]!));
    this.#tail = begun.catch(() => undefined);
    const done = begun.then((started) => started.done);
    done.catch(() => undefined);
    const before = this.settled;
    this.settled = Promise.all([before, done.catch(() => undefined)]);
    return Promise.resolve({ done });
  }

  async end(): Promise<void> {
    await this.#tail;
    await this.#session.end();
  }

  close(): void {
    this.#session.close();
  }
}
