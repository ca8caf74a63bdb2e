import type { Logger } from 'pino';
import { FerryError, toFerryError } from '../errors/index.js';
import type { KeyPair, NonceRange } from '../crypto/index.js';
import type {
  BeforeTreeWrite,
  KnownLeafHashes,
  PartialStore,
  RootPath,
  SealPool,
} from '../transfer/index.js';
import { parseRemotePath, type Message } from '../protocol/index.js';
import type { TransferRegistry } from './transfer-registry.js';
import type { ConnectionGate } from './connection-gate.js';
import type { StorageLimits } from './storage-limits.js';
import type { BatchAdmission } from './batch-admission.js';
import type { DeltaMemory } from './delta-memory.js';
import type { StoreHeads } from './store-heads.js';
import type { PartMemory } from './part-memory.js';
import type { FileHashCache } from './file-hash-cache.js';
import type { PairingAdmission } from './pairing-admission.js';
import { SessionEvents, type ServerEvents } from './server-events.js';
import type { ServerObjectStore, SessionObjectStore } from './server-object-store.js';
import type { AdmittedSessions } from './admitted-sessions.js';
import type { DirectoryIdentity } from '../home/index.js';

/** What the allow-list grants an admitted client. */
export interface ClientGrant {
  readonly name?: string | undefined;
  /** PERMISSION_UPLOAD | PERMISSION_DOWNLOAD bits. */
  readonly permissions: number;
  /** Remote path prefix the client is confined to (already validated), or undefined for the whole root. */
  readonly root?: string | undefined;
}

/**
 * Looks a client key up in the allow-list; undefined refuses it. A refusal that says more throws
 * CLIENT_NOT_ALLOWED with the detail to send (a cluster's, PROTOCOL.md §3.2.2); SERVER_BUSY thrown refuses
 * for now (the list cannot be read).
 */
export type Authorize = (publicKey: Buffer) => ClientGrant | undefined | Promise<ClientGrant | undefined>;

/** What every session of a server shares. */
export interface SessionContext {
  readonly root: string;
  /** The root's directory as the start found it, which each admission checks is still the one served. */
  readonly rootServed?: DirectoryIdentity | undefined;
  /** The server's home as the start found it (its allow-list and invites are re-read), checked likewise. */
  readonly homeServed?: DirectoryIdentity | undefined;
  readonly partialDir: string;
  readonly identity: KeyPair;
  readonly authorize: Authorize;
  readonly registry: TransferRegistry;
  readonly logger: Logger;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxFileBytes: number;
  readonly durableBatchBytes: number | undefined;
  /** Pairing (PROTOCOL.md §12) for mode-1 sessions; undefined refuses them like unknown clients. */
  readonly pairing?: PairingAdmission | undefined;
  /** The server's event stream (`FerryServer.events`). */
  readonly events: ServerEvents;
  /** Where admitted sessions register, so a revoke can end them (`FerryServer.endSessions`). */
  readonly admitted?: AdmittedSessions | undefined;
  /** Connection limits (total, unauthenticated, per client). */
  readonly gate: ConnectionGate;
  /** Storage limits checked before a transfer is accepted. */
  readonly storage: StorageLimits;
  /** Chunk hashes computed for checks that send no data (VERIFY_ONLY, held claims, EXISTING). */
  readonly hashCache: FileHashCache;
  /** Open upload batches, per client and in total (PROTOCOL.md §5.14: their data is held in memory). */
  readonly batchAdmission: BatchAdmission;
  /** Memory delta uploads hold (PROTOCOL.md §5.15), per client and in total. */
  readonly deltaMemory: DeltaMemory;
  /** Leaf hashes of files verified or signed, bound to their identity (issue 16); undefined: none kept. */
  readonly knownLeafHashes?: KnownLeafHashes | undefined;
  /** HEADs an object store makes for requests that send no data: per listing, per client, in total. */
  readonly storeHeads: StoreHeads;
  /**
   * Bytes object-store listings hold while they collect their entries (listing-memory.ts), per client and in
   * total; undefined: each listing alone is bounded by the defaults.
   */
  readonly listingMemory?: PartMemory | undefined;
  /**
   * Received files go to this object store instead of under `root` (issue 15); undefined: the root. Reached
   * through `SessionIo.objectStore` only, which carries the session's signal.
   */
  readonly objectStore?: SessionObjectStore | undefined;
  /** What this server says about its keys after WELCOME (PROTOCOL.md §13); nothing when undefined. */
  readonly keyRotation?: ServerKeyRotation | undefined;
  /**
   * Worker threads that hash and seal download data and open and hash upload data (issue 14); undefined: the
   * event loop does it all.
   */
  readonly sealPool?: SealPool | undefined;
  /**
   * Bytes downloads sealed on `sealPool` hold in blocks beyond each stream's first, per client and in total
   * (download-memory.ts); undefined: each stream keeps its whole window.
   */
  readonly downloadMemory?: PartMemory | undefined;
  /**
   * Bytes uploads hold received and not yet written, per client and in total (upload-memory.ts);
   * undefined: each session keeps its whole window.
   */
  readonly uploadMemory?: PartMemory | undefined;
  /**
   * How often a session busy for its client sends KEEPALIVE (PROTOCOL.md §5.18, `SessionKeepalive`); default
   * KEEPALIVE_INTERVAL_MS. Tests inject a short one.
   */
  readonly keepaliveMs?: number | undefined;
  /**
   * The store of partials under the root's partial directory (`serverPartialStore`), when something else is
   * wanted: tests wrap it to make storage slow. Unused with an `objectStore`.
   */
  readonly partialStore?: PartialStore<string, RootPath> | undefined;
  /**
   * Tests only: runs inside a PUT_DIR, PUT_LINK or SET_ATTRIBUTES between a check of its path and the act it
   * guards (a test swaps a directory on the way for a link there, as a local user racing the server could).
   */
  readonly beforeTreeWrite?: BeforeTreeWrite | undefined;
}

/** The test hook's type is transfer's: the client's tree download takes the same one. */
export type { BeforeTreeWrite, TreeWriteStep } from '../transfer/index.js';

/**
 * The server's side of key rotation (PROTOCOL.md §13): the commitment to its next key, or a rotation under
 * way (the new key, brought online by the operator, and the commitment to the key after it).
 */
export interface ServerKeyRotation {
  /** SHA-256 of the next public key (§13.2); its private key stays offline with the operator. */
  readonly nextCommitment?: Buffer | undefined;
  /** A rotation to `identity` (whose public key is the last announced commitment's), §13.3. */
  readonly rotateTo?: { readonly identity: KeyPair; readonly nextCommitment: Buffer } | undefined;
}

/**
 * One admitted session as its operation handlers see it: who the client is, what it may do, and how to
 * answer. Handlers never touch the socket.
 */
export class SessionIo {
  readonly ctx: SessionContext;
  readonly clientKey: Buffer;
  readonly grant: ClientGrant;
  readonly log: Logger;
  readonly send: (message: Message) => Promise<void>;
  readonly sendPlaintext: (plaintext: Buffer) => Promise<void>;
  /** Seals and writes a block of plaintexts in one gathered write (`SecureChannel.sendPlaintexts`). */
  readonly sendPlaintexts: (plaintexts: readonly Buffer[]) => Promise<void>;
  /** Reserves nonces for records sealed on the pool (`SecureChannel.reserveRecords`). */
  readonly reserveRecords: (count: number) => NonceRange[];
  /** Writes records sealed on the pool under reserved nonces (`SecureChannel.writeFramed`). */
  readonly writeFramed: (framed: Buffer, records: number) => Promise<void>;
  /** Where handlers report transfers (ServerEvents); reports nothing when the session has no server. */
  readonly events: SessionEvents;
  /** Aborts when the operation this view is for stops (`until`): its waits should end with it. */
  readonly stopped: AbortSignal | undefined;
  /**
   * The server's object store as this session (or operation, `until`) reaches it: every request carries
   * `stopped`, so the session's end (a download's, for its view) drops the requests in flight
   * (ServerObjectStore.withSignal). Undefined: files live under the root.
   */
  readonly objectStore: ServerObjectStore | undefined;
  readonly #rootPrefix: readonly string[];

  constructor(
    ctx: SessionContext,
    clientKey: Buffer,
    grant: ClientGrant,
    log: Logger,
    senders: {
      send: (message: Message) => Promise<void>;
      sendPlaintext: (plaintext: Buffer) => Promise<void>;
      /** Without it, a block goes record by record through `sendPlaintext`. */
      sendPlaintexts?: (plaintexts: readonly Buffer[]) => Promise<void>;
      /** Needed only with a `sealPool`. */
      reserveRecords?: (count: number) => NonceRange[];
      writeFramed?: (framed: Buffer, records: number) => Promise<void>;
    },
    events: SessionEvents = SessionEvents.none(),
    stopped?: AbortSignal,
  ) {
    this.ctx = ctx;
    this.clientKey = clientKey;
    this.grant = grant;
    this.log = log;
    this.send = senders.send;
    this.sendPlaintext = senders.sendPlaintext;
    this.sendPlaintexts =
      senders.sendPlaintexts ??
      (async (plaintexts) => {
        for (const plaintext of plaintexts) await senders.sendPlaintext(plaintext);
      });
    this.reserveRecords = senders.reserveRecords ?? noPoolSink;
    this.writeFramed = senders.writeFramed ?? noPoolSink;
    this.events = events;
    this.stopped = stopped;
    this.objectStore = ctx.objectStore?.withSignal(stopped);
    this.#rootPrefix = grant.root ? parseRemotePath(grant.root) : [];
  }

  /**
   * This session as one operation sees it, whose sends fail once `signal` aborts (with its reason): a
   * download stopped by the client's CANCEL sends nothing more from its next message on (PROTOCOL.md §5.9).
   */
  until(signal: AbortSignal): SessionIo {
    const stopped = (): Promise<void> => Promise.reject(toFerryError(signal.reason));
    return new SessionIo(
      this.ctx,
      this.clientKey,
      this.grant,
      this.log,
      {
        send: (message) => (signal.aborted ? stopped() : this.send(message)),
        sendPlaintext: (plaintext) => (signal.aborted ? stopped() : this.sendPlaintext(plaintext)),
        sendPlaintexts: (plaintexts) => (signal.aborted ? stopped() : this.sendPlaintexts(plaintexts)),
        reserveRecords: (count) => {
          if (signal.aborted) throw toFerryError(signal.reason);
          return this.reserveRecords(count);
        },
        // Records already reserved are written even after a CANCEL: the peer opens records in nonce order.
        writeFramed: (framed, records) => this.writeFramed(framed, records),
      },
      this.events,
      signal,
    );
  }

  /** How many leading components of every rooted path are the client's confinement (PROTOCOL.md §7.1). */
  get rootDepth(): number {
    return this.#rootPrefix.length;
  }

  /**
   * Validates a client-supplied path (PROTOCOL.md §7.1) and places it under the client's root. With
   * `allowEmpty`, '' names the client's root itself.
   */
  rooted(path: string, options: { allowEmpty?: boolean } = {}): string[] {
    if (path === '' && options.allowEmpty) return [...this.#rootPrefix];
    return [...this.#rootPrefix, ...parseRemotePath(path)];
  }

  /** Whether the client's grant has `bit`. */
  may(bit: number): boolean {
    return (this.grant.permissions & bit) !== 0;
  }

  /** Throws PERMISSION_DENIED unless the client's grant has `bit`. */
  require(bit: number, what: string): void {
    if (!this.may(bit)) throw new FerryError('PERMISSION_DENIED', `${what} not granted`);
  }
}

function noPoolSink(): never {
  throw new FerryError('INTERNAL', 'this session writes no records sealed elsewhere');
}
