import type { Logger } from 'pino';
import type { KeyPair } from '../crypto/index.js';
import type { PartialStore, RootPath } from '../transfer/index.js';
import type { BatchAdmissionOptions } from './batch-admission.js';
import type { ConnectionLimits } from './connection-gate.js';
import type { CoordinationBudgetOptions } from './coordination-budget.js';
import type { DeltaMemoryOptions } from './delta-memory.js';
import type { HandshakeRateLimits } from './handshake-rate-limit.js';
import type { HashBudgetOptions } from './hash-budget.js';
import type { PairingOptions } from './pairing-admission.js';
import type { PartMemoryOptions } from './part-memory.js';
import type { ServerObjectStore } from './server-object-store.js';
import type { Authorize, BeforeTreeWrite, ServerKeyRotation } from './session-io.js';
import type { StoreHeadsOptions } from './store-heads.js';
import type { TransferOwnership } from './transfer-ownership.js';

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
  /**
   * Files of the server's own outside the root: the settings it was started with (`ferry serve --config`) and
   * its log (`--log-file`). `start` refuses a root that contains any of them: a client that may upload could
   * rewrite the settings (a root of `/`, an etcd of its own for the allow-list) for the next start, and one
   * that may download read the log (every client's paths and addresses).
   */
  ownFiles?: readonly string[];
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
  /**
   * How long an upload's promise of disk for the rest of its file outlasts its data (default
   * UPLOAD_STALL_TIMEOUT_MS, 60 s): a live session's offer that sends no data no longer holds the disk
   * against other offers (StorageLimits.dataArrived); 0 keeps it while a session holds the transfer.
   */
  uploadStallTimeoutMs?: number;
  /** The clock of the promises of disk (`uploadStallTimeoutMs`), injectable so tests never sleep. */
  storageNow?: () => number;
  /** Memory for chunk hashes of checks that send no data (default FILE_HASH_CACHE_BYTES, 32 MiB). */
  hashCacheBytes?: number;
  /**
   * Threads hashing and sealing download data and opening and hashing upload data (issue 14): 1 keeps it on
   * the event loop, more starts one `SealPool` of that many worker threads for the server's life. Default
   * DEFAULT_THREADS (by cores: `defaultThreadsFor`).
   */
  threads?: number;
  /**
   * Memory downloads sealed on those threads may hold in blocks beyond each stream's first (about 2 MiB
   * each), per client over all its sessions and in total (defaults 128 MiB and 512 MiB, download-memory.ts);
   * past either a stream waits on its own blocks, so no stream waits on another's.
   */
  downloadMemory?: PartMemoryOptions;
  /**
   * Memory uploads may hold received and not yet written (the pages of receive blocks or records written),
   * per client over all its sessions and in total (defaults 128 MiB and 512 MiB, upload-memory.ts); past
   * either a session stops reading its socket until its own data is written.
   */
  uploadMemory?: PartMemoryOptions;
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
   * Memory object-store listings may hold while they collect their entries (S3 lists in byte order, so a
   * listing is sorted whole before it is sent), per client and in total (defaults 384 MiB and 1 GiB, counted
   * as each entry's encoded bytes plus 256); a listing past either is refused with SERVER_BUSY
   * (listing-memory.ts).
   */
  listingMemory?: PartMemoryOptions;
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
  /**
   * Tests only: runs inside a PUT_DIR, PUT_LINK or SET_ATTRIBUTES between its checks and its acts
   * (`TreeWriteStep`).
   */
  beforeTreeWrite?: BeforeTreeWrite;
}
