import { createServer, type Server, type Socket } from 'node:net';
import { mkdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { pino, type Logger } from 'pino';
import { FerryError } from '../errors/index.js';
import { formatFerryId, type KeyPair } from '../crypto/index.js';
import {
  BATCH_TEMPORARY_MAX_AGE_MS,
  DEFAULT_THREADS,
  SERVER_BATCH_TEMP_PREFIX,
  KnownLeafHashes,
  SealPool,
  sweepBatchTemporaries,
  type PartialStore,
  type RootPath,
} from '../transfer/index.js';
import { HANDSHAKE_TIMEOUT_MS, ReusedReads } from '../channel/index.js';
import { DEFAULT_PORT, RESERVED_ROOT_COMPONENT } from '../protocol/index.js';
import { ServerSession } from './server-session.js';
import { readingIntoReusedBuffer } from './reading-into-reused-buffer.js';
import { AdmittedSessions } from './admitted-sessions.js';
import type { Authorize, ServerKeyRotation } from './session-io.js';
import { TransferRegistry } from './transfer-registry.js';
import type { TransferOwnership } from './transfer-ownership.js';
import { CoordinationBudget, type CoordinationBudgetOptions } from './coordination-budget.js';
import { ConnectionGate, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './connection-gate.js';
import {
  DEFAULT_HANDSHAKE_RATE_LIMITS,
  HandshakeRateLimit,
  type HandshakeRateLimits,
} from './handshake-rate-limit.js';
import { MAX_PARTIALS_PER_CLIENT, MIN_FREE_DISK_BYTES, StorageLimits } from './storage-limits.js';
import { ServerEvents } from './server-events.js';
import { logServerEvents } from './server-log.js';
import { FileHashCache } from './file-hash-cache.js';
import { HashBudget, type HashBudgetOptions } from './hash-budget.js';
import { BatchAdmission, type BatchAdmissionOptions } from './batch-admission.js';
import { DeltaMemory, type DeltaMemoryOptions } from './delta-memory.js';
import { PartMemory, type PartMemoryOptions } from './part-memory.js';
import { StoreHeads, type StoreHeadsOptions } from './store-heads.js';
import { PairingAdmission, type PairingOptions } from './pairing-admission.js';
import { PARTIAL_MAX_AGE_MS, PARTIAL_SWEEP_INTERVAL_MS, sweepPartials } from './partial-sweeper.js';
import { serverPartialStore } from './server-partial-store.js';
import { SMALL_FILE_PLACER } from './small-file-placer.js';
import type { ServerObjectStore } from './server-object-store.js';

/** PROTOCOL.md §10: a session that sends nothing for this long is closed. */
export const SERVER_IDLE_TIMEOUT_MS = 60_000;

export interface ServeOptions {
  /** Directory files are received into; created if missing. */
  root: string;
  host?: string;
  /** 0 picks a free port (tests). Defaults to 7443. */
  port?: number;
  identity: KeyPair;
  /**
   * The ferry home holding this server's identity key, allow-list and invites (defaults to
   * `pairing.homeDir`). `start` refuses a root that contains it or lies inside it.
   */
  home?: string;
  /** Admission: the allow-list lookup (PROTOCOL.md §3.2.2). */
  authorize: Authorize;
  handshakeTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Largest accepted file; 0 for no limit. */
  maxFileBytes?: number;
  /** How many verified bytes are batched per durability flush (PROTOCOL.md §9.2). */
  durableBatchBytes?: number;
  /** Partials untouched for this long are removed (default 24 h). */
  partialMaxAgeMs?: number;
  /** How often to look for abandoned partials (default 1 h); 0 disables the timer (tests sweep by hand). */
  partialSweepIntervalMs?: number;
  logger?: Logger;
  signal?: AbortSignal;
  /** Accept pairing sessions (mode 1, PROTOCOL.md §12) against this home's invites; off when absent. */
  pairing?: PairingOptions;
  /** Connection limits; fields left out take DEFAULT_CONNECTION_LIMITS'. */
  limits?: Partial<ConnectionLimits>;
  /**
   * Handshakes one source (IPv4 address, IPv6 /64) may start, per second and at once; fields left out take
   * DEFAULT_HANDSHAKE_RATE_LIMITS'. `now` is the clock (milliseconds), injectable so tests never sleep.
   */
  handshakeRate?: Partial<HandshakeRateLimits> & { now?: () => number };
  /** Free disk space kept: a transfer that would leave less is refused with DISK_FULL (default 64 MiB). */
  minFreeDiskBytes?: number;
  /**
   * Bytes one client key may store per server run (files it placed plus its open partials, see
   * StorageLimits); 0 (the default) for no limit.
   */
  clientQuotaBytes?: number;
  /** Partial transfers one client key may hold open (default 256); 0 for no limit. */
  maxPartialsPerClient?: number;
  /** Memory for chunk hashes of checks that send no data (default FILE_HASH_CACHE_BYTES, 32 MiB). */
  hashCacheBytes?: number;
  /**
   * Threads hashing and sealing download data and opening and hashing upload data (issue 14): 1 keeps it on
   * the event loop, more starts one `SealPool` of that many worker threads for the server's life. Default
   * DEFAULT_THREADS (by cores: `defaultThreadsFor`).
   */
  threads?: number;
  /**
   * Each client's budget for hashing that sends no data (defaults: 4 GiB at once, then 512 MiB/s) and the
   * budget all clients share (8 GiB, then 1 GiB/s); the clock and the wait are injectable for tests.
   */
  hashBudget?: HashBudgetOptions;
  /**
   * Upload batches open at once (PROTOCOL.md §5.14), per client and in total (defaults 8 and 128: a batch's
   * data is held in memory until it is placed); a batch past either waits for one to end.
   */
  batchAdmission?: BatchAdmissionOptions;
  /**
   * Memory delta uploads may hold at once (copy buffers, the old file's leaf hashes), per client and in total
   * (defaults 64 and 256 MiB); an upload past either waits for others to end.
   */
  deltaMemory?: DeltaMemoryOptions;
  /**
   * Memory uploads to an `objectStore` may hold in parts at once, per client and in total (defaults 256 MiB and
   * 1 GiB); an offer whose largest part does not fit is refused with SERVER_BUSY (`PartMemory`).
   */
  partMemory?: PartMemoryOptions;
  /**
   * HEADs an object store makes for requests that send no data (a listing's files' attributes, a batched
   * download's entries): per listing (default 100 000), per client and in total (defaults 1000/s and 2000/s
   * past bursts of 100 000 and 200 000); past a rate the request waits.
   */
  storeHeads?: StoreHeadsOptions;
  /** Key rotation (PROTOCOL.md §13): the next key's commitment, or a rotation under way. */
  keyRotation?: ServerKeyRotation;
  /** The random source of join tokens (PROTOCOL.md §5.13.2); the system CSPRNG unless a test injects one. */
  random?: (bytes: number) => Uint8Array;
  /**
   * Keep received files in this object store instead of under `root` (issue 15, `--store s3://...`).
   * An object store reports no free space, so `minFreeDiskBytes` is not checked (docs/SECURITY.md).
   */
  objectStore?: ServerObjectStore;
  /**
   * Who writes a transfer across the servers sharing `objectStore` (PROTOCOL.md §6.2 across servers;
   * `--coordination etcd://...`): default this server alone. The caller closes it after the server.
   */
  ownership?: TransferOwnership;
  /** What one client and all clients may cause at the coordination service (defaults: CoordinationBudget). */
  coordinationBudget?: CoordinationBudgetOptions;
  /** How often a session busy for its client sends KEEPALIVE (PROTOCOL.md §5.18); default 10 s. */
  keepaliveMs?: number;
  /**
   * Wraps the store of partials under the root (uploads only; tests make storage slow with it). Unused with
   * an `objectStore`.
   */
  partialStore?: (partialDir: string) => PartialStore<string, RootPath>;
}

/** A running ferry server. */
export class FerryServer {
  readonly #server: Server;
  readonly #sessions = new Set<Socket>();
  readonly #abort = new AbortController();
  readonly #running = new Set<Promise<void>>();
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
  /**
   * Leaf hashes of files this server verified or signed, bound to their identity, under the root's `.ferry/`
   * (issue 16, WARM deltas; `KnownLeafHashes`); undefined with an object store.
   */
  readonly knownLeafHashes: KnownLeafHashes | undefined;
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
   * periodically. `now` is injectable for tests.
   */
  async sweepPartials(now: number = Date.now()): Promise<string[]> {
    const removed = await sweepPartials(this.#objectStore ?? serverPartialStore(this.#partialDir), {
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
    const existing = await stat(options.root).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (existing && !existing.isDirectory())
      throw new FerryError(
        'USAGE_INVALID',
        'the server root is a file, not a directory: name a directory (it is created if missing)',
        { subject: options.root },
      );
    await mkdir(options.root, { recursive: true, mode: 0o755 });
    // Resolve the root once: every path check below compares against the real directory.
    const root = await realpath(options.root);
    const home = options.home ?? options.pairing?.homeDir;
    if (home !== undefined) await assertApart(root, home);
    const partialDir = join(root, RESERVED_ROOT_COMPONENT, 'partial');
    await mkdir(partialDir, { recursive: true, mode: 0o700 });
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
    });
    // Partials left by an earlier run are promised their size before the first offer is weighed.
    await storage.load();
    // Paused at accept: nothing is read before the socket is re-wrapped to read into its reused buffer.
    const server = createServer({ noDelay: true, pauseOnConnect: true });
    const ferry = new FerryServer(server, options, root, partialDir, registry, storage, logger);
    // Sessions, refusals and transfers are logged from the event stream alone (server-log.ts); what is
    // logged directly below (listening, sweeps, connection limits, pairing) has no event.
    logServerEvents(ferry.events, logger);
    const gate = new ConnectionGate({ ...DEFAULT_CONNECTION_LIMITS, ...options.limits }, logger);
    ferry.gate = gate;
    const { now, ...rateLimits } = options.handshakeRate ?? {};
    const handshakeRate = new HandshakeRateLimit(
      { ...DEFAULT_HANDSHAKE_RATE_LIMITS, ...rateLimits },
      { logger, ...(now ? { now } : {}) },
    );
    ferry.handshakeRate = handshakeRate;
    const context = {
      root,
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
      keyRotation: options.keyRotation,
      objectStore: options.objectStore,
      sealPool: ferry.#sealPool,
      admitted: ferry.#admitted,
      keepaliveMs: options.keepaliveMs,
      partialStore: options.partialStore?.(partialDir),
    };
    server.on('connection', (accepted) => {
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
      ferry.#sessions.add(socket);
      socket.once('close', () => ferry.#sessions.delete(socket));
      const run = new ServerSession(context, socket, reads).run(ferry.#abort.signal);
      ferry.#running.add(run);
      void run.finally(() => ferry.#running.delete(run));
    });
    await new Promise<void>((resolve, reject) => {
      const host = options.host ?? '127.0.0.1';
      const port = options.port ?? DEFAULT_PORT;
      server.once('error', (err) => reject(listenError(err, host, port)));
      server.listen({ host, port }, resolve);
    });
    logger.info(
      { event: 'listening', id: formatFerryId(options.identity.publicKey), address: ferry.addressText },
      'server ready',
    );
    options.signal?.addEventListener('abort', () => void ferry.close(), { once: true });
    // The thread that writes batched small files on disk (PROTOCOL.md §5.14) loads its modules now, while the
    // server waits for its first client: started by a batch's first record, it made that batch wait for it
    // (issue 14: ~0.1-0.2 s of the 1000-file case on a fresh server). It does not keep the process alive.
    if (options.objectStore === undefined) SMALL_FILE_PLACER.warm();
    const sweepInterval = options.partialSweepIntervalMs ?? PARTIAL_SWEEP_INTERVAL_MS;
    if (sweepInterval > 0) {
      const sweep = (): void =>
        void ferry
          .sweepPartials()
          .catch((err: unknown) => logger.warn({ err: String(err) }, 'partial sweep failed'));
      sweep();
      ferry.#sweepTimer = setInterval(sweep, sweepInterval).unref();
    }
    return ferry;
  }

  /**
   * Ends the live sessions of every client key `shouldEnd` picks, each with `error` sent as its ERROR (a
   * revoke heard from the cluster, `ClusterAdmission`); returns how many. Sessions still in the handshake
   * are not counted: their admission reads the list as it is now.
   */
  endSessions(shouldEnd: (clientKey: Buffer) => boolean, error: FerryError): number {
    return this.#admitted.end(shouldEnd, error);
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

  /** Stops accepting, ends every session (their partials are kept) and waits for them. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#sweepTimer);
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#abort.abort();
      for (const socket of this.#sessions) socket.destroy();
      await Promise.allSettled([...this.#running]);
      await this.#sealPool?.close();
      await closed;
    })();
    return this.#closing;
  }
}

/**
 * A client that may read the root must never reach the server's own home: with `--root ~` it could download
 * `identity.key` and, with upload permission, rewrite the allow-list and the invites (docs/SECURITY.md,
 * "Root and home kept apart"). Real paths are compared, so a link to either side does not hide an overlap.
 */
async function assertApart(root: string, home: string): Promise<void> {
  const realHome = await realpath(home).catch(() => undefined);
  if (realHome === undefined) return; // no home yet: nothing in it to expose
  const inside = (outer: string, inner: string): boolean => {
    const rel = relative(outer, inner);
    return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
  };
  if (inside(root, realHome))
    throw new FerryError(
      'ROOT_CONTAINS_HOME',
      'the root contains the ferry home; choose a root apart from it',
    );
  if (inside(realHome, root))
    throw new FerryError(
      'ROOT_CONTAINS_HOME',
      'the root is inside the ferry home; choose a root apart from it',
    );
}

/** Why `host:port` could not be bound, with what to do about it. */
function listenError(err: unknown, host: string, port: number): FerryError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const why: Record<string, string> = {
    EADDRINUSE:
      'address already in use; is another server running there? choose another address with --listen',
    EACCES: 'permission denied; ports below 1024 need privileges, choose another with --listen',
    EADDRNOTAVAIL: 'not an address of this machine; choose another with --listen',
  };
  return new FerryError('LISTEN_FAILED', `${why[code] ?? 'failed'} (${code.toLowerCase()})`, {
    cause: err,
    subject: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
  });
}
