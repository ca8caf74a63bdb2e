import { setMaxListeners } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { DirectoryIdentity } from '../home/index.js';
import { pino, type Logger } from 'pino';
import { FerryError } from '../errors/index.js';
import { formatFerryId } from '../crypto/index.js';
import {
  BATCH_TEMPORARY_MAX_AGE_MS,
  DEFAULT_THREADS,
  SERVER_BATCH_TEMP_PREFIX,
  KnownLeafHashes,
  LEAF_HASH_THREADS,
  SealPool,
  sweepBatchTemporaries,
} from '../transfer/index.js';
import { HANDSHAKE_TIMEOUT_MS, ReusedReads, warmHandshake } from '../channel/index.js';
import { DEFAULT_PORT, RESERVED_ROOT_COMPONENT } from '../protocol/index.js';
import { ServerSession } from './server-session.js';
import type { SessionContext } from './session-io.js';
import type { SessionState } from './session-state.js';
import { readingIntoReusedBuffer } from './reading-into-reused-buffer.js';
import { AdmittedSessions } from './admitted-sessions.js';
import { TransferRegistry } from './transfer-registry.js';
import { CoordinationBudget } from './coordination-budget.js';
import { ConnectionGate, DEFAULT_CONNECTION_LIMITS } from './connection-gate.js';
import { DEFAULT_HANDSHAKE_RATE_LIMITS, HandshakeRateLimit } from './handshake-rate-limit.js';
import {
  MAX_PARTIALS_PER_CLIENT,
  MIN_FREE_DISK_BYTES,
  StorageLimits,
  UPLOAD_STALL_TIMEOUT_MS,
} from './storage-limits.js';
import { ServerEvents } from './server-events.js';
import { logServerEvents } from './server-log.js';
import { FileHashCache } from './file-hash-cache.js';
import { HashBudget } from './hash-budget.js';
import { BatchAdmission } from './batch-admission.js';
import { DeltaMemory } from './delta-memory.js';
import { PartMemory } from './part-memory.js';
import { DOWNLOAD_MEMORY } from './download-memory.js';
import { UPLOAD_MEMORY } from './upload-memory.js';
import { LISTING_MEMORY } from './listing-memory.js';
import { StoreHeads } from './store-heads.js';
import { PairingAdmission } from './pairing-admission.js';
import { PARTIAL_MAX_AGE_MS, PARTIAL_SWEEP_INTERVAL_MS, sweepPartials } from './partial-sweeper.js';
import { serverPartialStore } from './server-partial-store.js';
import { SMALL_FILE_PLACER } from './small-file-placer.js';
import type { ServerObjectStore } from './server-object-store.js';
import { listenError } from './listen-error.js';
import { prepareServerRoot } from './server-root.js';
import { SERVER_IDLE_TIMEOUT_MS, type ServeOptions } from './serve-options.js';
import { CLOSE_GRACE_MS, type CloseOptions } from './close-options.js';
import { untilAborted } from './until-aborted.js';

/** A running ferry server. */
export class FerryServer {
  readonly #server: Server;
  readonly #sessions = new Set<Socket>();
  readonly #abort = new AbortController();
  readonly #running = new Set<Promise<void>>();
  /** The sessions whose `run` has not returned, for `sessionStates`. */
  readonly #live = new Set<ServerSession>();
  readonly publicKey: Buffer;
  /** Sessions and transfers as they happen (see ServerEvent), for dashboards and logs. */
  readonly events = new ServerEvents();
  readonly root: string;
  /** Chunk hashes computed for checks that send no file data; `hashCache.hashedBytes` counts the misses. */
  readonly hashCache: FileHashCache;
  /** Memory held by delta uploads, shared by every client (`DeltaMemory`). */
  readonly deltaMemory: DeltaMemory;
  /** Memory held in parts by uploads to an object store, shared by every client (`PartMemory`). */
  readonly partMemory: PartMemory;
  /** Memory object-store listings hold while they collect their entries, shared by every client. */
  readonly listingMemory: PartMemory;
  /**
   * Bytes downloads sealed on the server's threads hold in blocks beyond each stream's first, per client and
   * in total (download-memory.ts).
   */
  readonly downloadMemory: PartMemory;
  /**
   * Bytes uploads hold received and not yet written, per client and in total (upload-memory.ts).
   */
  readonly uploadMemory: PartMemory;
  /**
   * Leaf hashes of files this server verified or signed, bound to their identity, under the root's `.ferry/`
   * (issue 16, WARM deltas; `KnownLeafHashes`); undefined with an object store.
   */
  readonly knownLeafHashes: KnownLeafHashes | undefined;
  /** The most blocks ever sealing at once on the server's pool (0 without one), for tests. */
  get peakSealingBlocks(): number {
    return this.#sealPool?.peakSealing ?? 0;
  }
  /** Blocks of received records ever opened on the server's pool (0 without one), for tests. */
  get openedBlocks(): number {
    return this.#sealPool?.openedBlocks ?? 0;
  }

  /** The worker threads sealing download data, when `threads` > 1. */
  readonly #sealPool: SealPool | undefined;
  readonly #partialDir: string;
  readonly #registry: TransferRegistry;
  readonly #storage: StorageLimits;
  readonly #partialMaxAgeMs: number;
  readonly #objectStore: ServerObjectStore | undefined;
  readonly #logger: Logger;
  readonly #admitted = new AdmittedSessions();
  #sweepTimer: NodeJS.Timeout | undefined;
  /** The connection limits in force, with counters of what they refused. */
  gate: ConnectionGate | undefined;
  /** The per-source handshake rate limit, with counters of what it let through and refused. */
  handshakeRate: HandshakeRateLimit | undefined;
  #closing: Promise<void> | undefined;
  /** Aborts when the grace of a `close` passed (`CloseOptions.graceMs`). */
  readonly #graceOver = new AbortController();
  readonly #graceTimers: NodeJS.Timeout[] = [];
  /** Whether `close` is done waiting for the sessions (no grace timer is wanted any more). */
  #waited = false;

  private constructor(
    server: Server,
    options: ServeOptions,
    root: string,
    partialDir: string,
    registry: TransferRegistry,
    storage: StorageLimits,
    logger: Logger,
  ) {
    this.#server = server;
    this.publicKey = options.identity.publicKey;
    this.root = root;
    this.#partialDir = partialDir;
    this.#registry = registry;
    this.hashCache = new FileHashCache(options.hashCacheBytes, new HashBudget(options.hashBudget));
    this.deltaMemory = new DeltaMemory(options.deltaMemory);
    this.partMemory = new PartMemory(options.partMemory);
    this.listingMemory = new PartMemory({ ...LISTING_MEMORY, ...options.listingMemory });
    // A client that stops reading kept all of its pipelines' blocks, about 25 MiB a session, with nothing
    // bounding the sum, then one client's 32 sessions could take the whole shared bound: each stream's
    // blocks beyond its first now come from its client's share and the total (`PooledChunkSink.memory`).
    this.downloadMemory = new PartMemory({ ...DOWNLOAD_MEMORY, ...options.downloadMemory });
    // Under a slow disk each upload session held 21-27 MiB received and not yet written, bounded by sessions
    // only (stop 38): a session's blocks now come from its client's share and the total, and a session past
    // either stops reading its socket until its own data is written (`PooledOpening.starved`).
    this.uploadMemory = new PartMemory({ ...UPLOAD_MEMORY, ...options.uploadMemory });
    this.knownLeafHashes = options.objectStore
      ? undefined
      : new KnownLeafHashes(join(root, RESERVED_ROOT_COMPONENT, 'leaves'));
    const threads = options.threads ?? DEFAULT_THREADS;
    this.#sealPool = threads > 1 ? new SealPool(threads) : undefined;
    this.#storage = storage;
    this.#partialMaxAgeMs = options.partialMaxAgeMs ?? PARTIAL_MAX_AGE_MS;
    this.#objectStore = options.objectStore;
    // A part loaded back while an upload is written is store work its data did not pay for: the client pays it.
    options.objectStore?.payPartLoads?.(async (transferId, bytes) => {
      const client = registry.clientOf(transferId);
      if (client) await this.hashCache.spend(client, bytes);
    });
    // An upload's parts in memory count for its client (a partial no session claimed, for itself) and in total.
    options.objectStore?.holdPartsWith?.((transferId, floorBytes) =>
      this.partMemory.hold(registry.clientOf(transferId)?.toString('hex') ?? transferId, floorBytes),
    );
    this.#logger = logger;
  }

  /**
   * Removes abandoned partial transfers now (PROTOCOL.md §9.1); the server also does this at start and then
   * periodically. `now` is injectable for tests. An object store's requests end with the server's close, or
   * with `signal` (the periodic sweep's deadline): a sweep belongs to no session, and a store that stopped
   * answering (the SDK sets no request timeout) held its LIST past the close, for as long as its connection
   * lived (stop 44).
   */
  async sweepPartials(now: number = Date.now(), signal?: AbortSignal): Promise<string[]> {
    const stop = signal === undefined ? this.#abort.signal : AbortSignal.any([this.#abort.signal, signal]);
    const store = this.#objectStore?.withSignal(stop) ?? serverPartialStore(this.#partialDir);
    const removed = await sweepPartials(store, {
      maxAgeMs: this.#partialMaxAgeMs,
      now,
      isHeld: (id) => this.#registry.isHeld(id),
    });
    // A removed partial no longer holds its promise of disk space and quota.
    for (const id of removed) this.#storage.released(id);
    if (removed.length > 0)
      this.#logger.info({ event: 'partials-swept', count: removed.length }, 'removed abandoned partials');
    if (this.#objectStore === undefined) {
      const temporaries = await sweepBatchTemporaries(this.#partialDir, {
        prefix: SERVER_BATCH_TEMP_PREFIX,
        maxAgeMs: BATCH_TEMPORARY_MAX_AGE_MS,
        now,
      });
      if (temporaries > 0)
        this.#logger.info(
          { event: 'batch-temporaries-swept', count: temporaries },
          'removed temporaries of batches a stopped server left',
        );
    }
    return removed;
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(options: ServeOptions): Promise<FerryServer> {
    const { root, partialDir, rootServed } = await prepareServerRoot(options);
    // Its allow-list and invites are re-read by path at each session: it must stay this directory (stop 44).
    const home = options.home ?? options.pairing?.homeDir;
    const homeServed =
      home === undefined ? undefined : await DirectoryIdentity.of(home).catch(() => undefined);
    const logger = options.logger ?? pino({ enabled: false });
    const registry = new TransferRegistry({
      ...(options.random ? { random: options.random } : {}),
      ...(options.ownership
        ? { ownership: options.ownership, budget: new CoordinationBudget(options.coordinationBudget) }
        : {}),
    });
    const storage = new StorageLimits(root, partialDir, {
      // An object store has no free space to read: its capacity is the bucket's (docs/SECURITY.md).
      minFreeDiskBytes: options.objectStore ? 0 : (options.minFreeDiskBytes ?? MIN_FREE_DISK_BYTES),
      clientQuotaBytes: options.clientQuotaBytes ?? 0,
      maxPartialsPerClient: options.maxPartialsPerClient ?? MAX_PARTIALS_PER_CLIENT,
      uploadStallMs: options.uploadStallTimeoutMs ?? UPLOAD_STALL_TIMEOUT_MS,
      ...(options.storageNow ? { now: options.storageNow } : {}),
      isHeld: (id) => registry.isHeld(id),
      partialMaxAgeMs:
        (options.partialSweepIntervalMs ?? PARTIAL_SWEEP_INTERVAL_MS) > 0
          ? (options.partialMaxAgeMs ?? PARTIAL_MAX_AGE_MS)
          : undefined,
    });
    // Partials left by an earlier run are promised their size before the first offer is weighed.
    await storage.load();
    // Paused at accept: nothing is read before the socket is re-wrapped to read into its reused buffer.
    const server = createServer({ noDelay: true, pauseOnConnect: true });
    const ferry = new FerryServer(server, options, root, partialDir, registry, storage, logger);
    // Sessions, refusals and transfers are logged from the event stream alone (server-log.ts); what is
    // logged directly below (listening, sweeps, connection limits, pairing) has no event.
    logServerEvents(ferry.events, logger);
    const limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
    const gate = new ConnectionGate(limits, logger);
    ferry.gate = gate;
    // Every connection in its handshake or pairing listens on the server's signal (so close() ends it) and
    // stops at that step's end: at most one listener each, bounded by the gate. Node's default of 10 made
    // eleven strangers connecting at once print "Possible EventTarget memory leak detected" on stderr, a
    // false alarm any flood raised (docs/SECURITY.md, "Findings of the stop 42 pass"); past this bound the
    // warning means a real leak again.
    setMaxListeners(limits.maxConnections + 1, ferry.#abort.signal);
    const { now, ...rateLimits } = options.handshakeRate ?? {};
    const handshakeRate = new HandshakeRateLimit(
      { ...DEFAULT_HANDSHAKE_RATE_LIMITS, ...rateLimits },
      { logger, ...(now ? { now } : {}) },
    );
    ferry.handshakeRate = handshakeRate;
    const context = {
      root,
      rootServed,
      homeServed,
      partialDir,
      identity: options.identity,
      authorize: options.authorize,
      registry,
      logger,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      idleTimeoutMs: options.idleTimeoutMs ?? SERVER_IDLE_TIMEOUT_MS,
      maxFileBytes: options.maxFileBytes ?? 0,
      durableBatchBytes: options.durableBatchBytes,
      events: ferry.events,
      pairing: options.pairing === undefined ? undefined : new PairingAdmission(options.pairing),
      gate,
      storage,
      hashCache: ferry.hashCache,
      batchAdmission: new BatchAdmission(options.batchAdmission),
      deltaMemory: ferry.deltaMemory,
      knownLeafHashes: ferry.knownLeafHashes,
      storeHeads: new StoreHeads(options.storeHeads),
      listingMemory: ferry.listingMemory,
      keyRotation: options.keyRotation,
      objectStore: options.objectStore,
      sealPool: ferry.#sealPool,
      downloadMemory: ferry.downloadMemory,
      uploadMemory: ferry.uploadMemory,
      admitted: ferry.#admitted,
      keepaliveMs: options.keepaliveMs,
      partialStore: options.partialStore?.(partialDir),
      beforeTreeWrite: options.beforeTreeWrite,
    };
    server.on('connection', (accepted) => ferry.#accept(accepted, context, handshakeRate, gate));
    await new Promise<void>((resolve, reject) => {
      const host = options.host ?? '127.0.0.1';
      const port = options.port ?? DEFAULT_PORT;
      server.once('error', (err) => reject(listenError(err, host, port)));
      server.listen({ host, port }, resolve);
    });
    // Before the first client, not in its handshake: ML-KEM's first calls run in V8's interpreter, ~70 ms of
    // a fresh server's first handshake against ~1 ms warm (issue 16; `warmHandshake`). Before 'server ready',
    // so whoever waits for that line (a supervisor, a bench) meets a server that answers at its usual speed.
    warmHandshake();
    logger.info(
      { event: 'listening', id: formatFerryId(options.identity.publicKey), address: ferry.addressText },
      'server ready',
    );
    options.signal?.addEventListener('abort', () => void ferry.close(), { once: true });
    // The thread that writes batched small files on disk (PROTOCOL.md §5.14) loads its modules now, while the
    // server waits for its first client: started by a batch's first record, it made that batch wait for it
    // (issue 14: ~0.1-0.2 s of the 1000-file case on a fresh server). It does not keep the process alive.
    if (options.objectStore === undefined) SMALL_FILE_PLACER.warm();
    // The leaf hash threads, likewise: a delta's signing (§5.17.2, §5.15.2) waited ~30 ms for its thread to
    // start before its first record went (issue 16).
    for (const thread of LEAF_HASH_THREADS) thread.warm();
    const sweepInterval = options.partialSweepIntervalMs ?? PARTIAL_SWEEP_INTERVAL_MS;
    if (sweepInterval > 0) ferry.#sweepEvery(sweepInterval);
    return ferry;
  }

  /**
   * One accepted connection, refused or run as a session: checked against the handshake rate of its source
   * and the connection limits before a byte is read, then read into its reused buffer and counted here
   * (`#sessions`, `#running`, `#live`) for `close()` and `sessionStates()`.
   */
  #accept(
    accepted: Socket,
    context: SessionContext,
    handshakeRate: HandshakeRateLimit,
    gate: ConnectionGate,
  ): void {
    // An RST from a peer must never become an uncaught exception.
    accepted.on('error', () => undefined);
    // Too many handshakes from this source (docs/SECURITY.md, "Handshakes under load"): closed before a
    // byte is read or written, so the refusal costs no X25519/ML-KEM work and answers nothing.
    if (!handshakeRate.allow(accepted.remoteAddress)) {
      accepted.destroy();
      return;
    }
    // Every read of this connection lands in one reused buffer (issue 14); from here on only `socket`
    // holds the connection, and net.Server no longer counts it: #sessions does, for close().
    const reads = new ReusedReads();
    const socket = readingIntoReusedBuffer(accepted, reads);
    socket.on('error', () => undefined);
    // Over the total limit: closed before a byte is read, so refusing costs nothing.
    if (!gate.admit(socket)) {
      socket.destroy();
      return;
    }
    this.#sessions.add(socket);
    socket.once('close', () => this.#sessions.delete(socket));
    const session = new ServerSession(context, socket, reads);
    const run = session.run(this.#abort.signal);
    this.#running.add(run);
    this.#live.add(session);
    void run.finally(() => {
      this.#running.delete(run);
      this.#live.delete(session);
    });
  }

  /**
   * Sweeps old partials now and every `intervalMs`, one sweep at a time, each given its interval: one that a
   * stalled store holds is dropped at the next tick's time, never doubled by it (a tick each hour added one
   * more held connection, stop 44).
   */
  #sweepEvery(intervalMs: number): void {
    let sweeping = false;
    const sweep = (): void => {
      if (sweeping) return;
      sweeping = true;
      void this.sweepPartials(Date.now(), AbortSignal.timeout(intervalMs))
        .catch((err: unknown) => this.#logger.warn({ err: String(err) }, 'partial sweep failed'))
        .finally(() => (sweeping = false));
    };
    sweep();
    this.#sweepTimer = setInterval(sweep, intervalMs).unref();
  }

  /**
   * Ends the live sessions of every client key `shouldEnd` picks, each with `error` sent as its ERROR (a
   * revoke heard from the cluster, `ClusterAdmission`); returns how many. Sessions still in the handshake
   * are not counted: their admission reads the list as it is now.
   */
  endSessions(shouldEnd: (clientKey: Buffer) => boolean, error: FerryError): number {
    return this.#admitted.end(shouldEnd, error);
  }

  /**
   * What each session still running is doing (`SessionState`), refused or admitted, its connection open or
   * not: a session past its connection's close is work no client waits for, and this says where it waits.
   */
  sessionStates(): SessionState[] {
    return [...this.#live].map((session) => session.state);
  }

  /** The bound address. */
  get address(): { host: string; port: number } {
    const info = this.#server.address();
    if (!info || typeof info === 'string') throw new FerryError('INTERNAL', 'server is not listening');
    return { host: info.address, port: info.port };
  }

  /** `host:port`, with IPv6 hosts in brackets. */
  get addressText(): string {
    const { host, port } = this.address;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }

  /**
   * Stops accepting and ends every session at once: its connection closed, its waits cancelled, what its
   * uploads received made durable and their partials kept for a resume. Waits for the sessions to end for at
   * most `graceMs` (`CloseOptions`), then resolves anyway: `sessionStates()` then lists the sessions left
   * (empty: all ended). Idempotent; a later call's shorter grace ends the wait sooner.
   */
  close(options: CloseOptions = {}): Promise<void> {
    const graceMs = options.graceMs ?? CLOSE_GRACE_MS;
    // NaN would wait without bound, as Infinity does, which nobody asks for by mistake.
    if (!(graceMs >= 0)) throw new RangeError(`close: graceMs must be 0 or more, got ${graceMs}`);
    // Past the grace of any call, the wait ends: one timer each, cleared once the wait is over.
    if (Number.isFinite(graceMs) && !this.#graceOver.signal.aborted && !this.#waited) {
      const timer = setTimeout(() => this.#graceOver.abort(), graceMs);
      this.#graceTimers.push(timer);
    }
    this.#closing ??= (async () => {
      clearInterval(this.#sweepTimer);
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#abort.abort();
      for (const socket of this.#sessions) socket.destroy();
      // A session ends by itself once its connection is gone, unless a call it makes never returns (a write
      // or fsync to a disk that stopped taking data, a store request without a timeout): nothing cancels
      // those, so the wait stops at the grace, and `sessionStates()` says who is left and where it waits.
      await untilAborted(
        Promise.allSettled([...this.#running]).then(() => undefined),
        this.#graceOver.signal,
      ).catch(() => undefined);
      this.#waited = true;
      for (const timer of this.#graceTimers) clearTimeout(timer);
      // Threads a session left waiting on are terminated: its job fails when it asks for its answer.
      await this.#sealPool?.close();
      await closed;
    })();
    return this.#closing;
  }
}
