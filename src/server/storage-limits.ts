import { stat, statfs } from 'node:fs/promises';
import { FerryError, formatBytes } from '../errors/index.js';
import { UploadFlow } from '../machines/index.js';
import { chunkCount } from '../protocol/index.js';
import { serverPartialPaths, serverPartialStore } from './server-partial-store.js';

/** How long one free-space reading serves (see `#sample`). */
const FREE_SAMPLE_MS = 250;

/** Default free space a server keeps on its disk. */
export const MIN_FREE_DISK_BYTES = 64 * 1024 * 1024;

/** Default number of partial transfers one client may keep open at once (see `StorageLimits`). */
export const MAX_PARTIALS_PER_CLIENT = 256;

/**
 * What every file, directory and link a client creates counts at least: one block and an inode on most
 * filesystems, so empty files, directories and links are not free (a flood of them would fill the inode
 * table under any byte quota).
 */
export const ENTRY_BYTES = 4096;

/**
 * Default time an upload's promise of the rest of its file outlasts its data (`StorageLimits`, ferry serve
 * --upload-stall-timeout): the server's idle timeout, so an honest upload whose data stops for longer would
 * have lost its session anyway, unless something else kept it open (its other requests, or the server's
 * KEEPALIVE while it re-hashes or signs for the upload: then the data's return promises the rest again).
 */
export const UPLOAD_STALL_TIMEOUT_MS = 60_000;

/** Bytes a partial's state log may take beyond its data: the header, and one entry per chunk (chunk-log.ts). */
const STATE_HEADER_BYTES = 1024;
const STATE_ENTRY_BYTES = 40;

/** Bytes promised to an open partial, and the client it belongs to (unknown for one found at start). */
interface Promised {
  client: string | undefined;
  bytes: number;
  /** For a live upload's offer: whether its data flows (`UploadFlow`); absent for other promises. */
  flow?: UploadFlow;
}

/** How a promise is made (`StorageLimits.reserve`). */
export interface ReserveOptions {
  /**
   * How many files the promise makes, each an inode: by default one for a new transfer and none for one
   * already promised (a resume: its partial is on disk), which a batch, whose one promise grows with every
   * entry, overrides.
   */
  newEntries?: number;
  /**
   * The promise is an upload's offer, whose data is still to come: it lasts while that data flows (see
   * `dataArrived`). A batch's promise is of data it holds already, and does not stall.
   */
  awaitsData?: boolean;
}

export interface StorageLimitOptions {
  /** Free space always kept; 0 turns the check off. */
  minFreeDiskBytes: number;
  /** Bytes one client may store per server run; 0 for no limit. */
  clientQuotaBytes: number;
  /** Partials one client may hold open; 0 for no limit. */
  maxPartialsPerClient?: number;
  /** The clock, injected by tests. */
  now?: () => number;
  /**
   * Whether a session holds transfer `id` now (TransferRegistry.isHeld): a promise no session holds is a
   * partial of an interrupted upload, which a DISK_FULL refusal names by its bytes.
   */
  isHeld?: (transferId: string) => boolean;
  /** How long a partial is kept without a write before the sweeper removes it; undefined: never swept. */
  partialMaxAgeMs?: number | undefined;
  /**
   * How long an upload's promise of the rest of its file outlasts its data (default UPLOAD_STALL_TIMEOUT_MS);
   * 0 keeps it while a session holds the transfer, as before stop 43.
   */
  uploadStallMs?: number;
}

/**
 * Disk limits checked before a transfer is accepted, so a refusal comes before any byte is written
 * (docs/SECURITY.md "Quota: every offer is charged", "Disk reserve: promises to partials are kept").
 *
 * What is counted: the partial of a live upload is **promised** its full size plus its state log, from the
 * offer until it is placed under its final name, removed (by a failed finish, the sweeper, or a fresh restart
 * of the same transfer), or let go by its session (`settle`: then it is promised what it holds on disk, as are
 * partials found at start, until a resume promises the rest again). Partials are sparse files, so the disk's
 * free space does not show a promise until its bytes arrive: the reserve check subtracts from `statfs` what
 * every promise has not yet allocated.
 *
 * The client quota is like a filesystem quota for one server run: the bytes of every file the client
 * placed (an `--overwrite` counts the new file in full; the replaced file is not credited back, as the
 * server does not record who stored it) plus the bytes promised to its open partials. A resumed offer of the
 * same transfer replaces its earlier promise, so a resume is not charged twice.
 */
export class StorageLimits {
  readonly #root: string;
  readonly #partialDir: string;
  readonly #minFreeDiskBytes: number;
  readonly #clientQuotaBytes: number;
  readonly #maxPartialsPerClient: number;
  readonly #now: () => number;
  readonly #isHeld: (transferId: string) => boolean;
  readonly #partialMaxAgeMs: number | undefined;
  readonly #uploadStallMs: number;
  readonly #promises = new Map<string, Promised>();
  /** Bytes placed under a final name per client (hex key), this server run. */
  readonly #placed = new Map<string, number>();
  /**
   * One reading of the disk: free bytes, what each promise had allocated then, and bytes that became real
   * since (placed files, new entries) which that `free` does not show yet.
   */
  #sample:
    | {
        at: number;
        free: number;
        allocated: Map<string, number>;
        since: number;
        /** Free inodes then (Infinity on a file system that makes them as needed: btrfs), and taken since. */
        freeInodes: number;
        inodesSince: number;
      }
    | undefined;
  #loaded: Promise<void> | undefined;

  constructor(root: string, partialDir: string, options: StorageLimitOptions) {
    this.#root = root;
    this.#partialDir = partialDir;
    this.#minFreeDiskBytes = options.minFreeDiskBytes;
    this.#clientQuotaBytes = options.clientQuotaBytes;
    this.#maxPartialsPerClient = options.maxPartialsPerClient ?? MAX_PARTIALS_PER_CLIENT;
    this.#now = options.now ?? Date.now;
    this.#isHeld = options.isHeld ?? (() => true);
    this.#partialMaxAgeMs = options.partialMaxAgeMs;
    this.#uploadStallMs = options.uploadStallMs ?? UPLOAD_STALL_TIMEOUT_MS;
  }

  /** The bytes a partial of `size` in chunks of `chunkBytes` may take on disk, state log included. */
  static promiseOf(size: number, chunkBytes: number): number {
    const chunks = chunkCount(size, chunkBytes);
    return ENTRY_BYTES + size + (chunks > 1 ? STATE_HEADER_BYTES + chunks * STATE_ENTRY_BYTES : 0);
  }

  /**
   * Charges `count` new directories or links (ENTRY_BYTES each) to `clientKey` as stored: QUOTA_EXCEEDED or
   * DISK_FULL, before they are created, when they do not fit.
   */
  async chargeEntries(clientKey: Buffer, count: number): Promise<void> {
    if (count <= 0) return;
    const client = clientKey.toString('hex');
    const bytes = count * ENTRY_BYTES;
    if (this.#clientQuotaBytes > 0) {
      const used = this.usedBy(client);
      if (used + bytes > this.#clientQuotaBytes)
        throw new FerryError(
          'QUOTA_EXCEEDED',
          `${used} of ${this.#clientQuotaBytes} bytes used or promised, ${entries(count)} of ${ENTRY_BYTES} more asked`,
        );
    }
    if (this.#minFreeDiskBytes > 0) {
      await this.load();
      const free = await this.#freeBytes('');
      if (free - bytes < this.#minFreeDiskBytes)
        throw new FerryError(
          'DISK_FULL',
          `${entries(count, 'new ')} need ${formatBytes(bytes)} and the server keeps ${formatBytes(this.#minFreeDiskBytes)} free${this.#interruptedNote(client)} (its operator can lower ferry serve --min-free-disk)`,
        );
      this.#takeInodes(count);
    }
    this.#placed.set(client, (this.#placed.get(client) ?? 0) + bytes);
    if (this.#sample) this.#sample.since += bytes;
  }

  /**
   * Promises `bytes` to transfer `transferId` of `clientKey` (replacing any earlier promise of the same
   * transfer): QUOTA_EXCEEDED or DISK_FULL, before anything is written, when it does not fit.
   */
  async reserve(
    clientKey: Buffer,
    transferId: string,
    bytes: number,
    options: ReserveOptions = {},
  ): Promise<void> {
    await this.#reserve(clientKey.toString('hex'), transferId, bytes, options);
  }

  /**
   * `bytes` of data arrived for the live upload `transferId` (PUT_DATA, PUT_COPY, a joined stream's): the
   * one rule of how long an offer's promise lasts while a session holds its transfer. Its promise of the
   * rest of the file stands while the data flows at the pace `UploadFlow` keeps (a leaf at least) within
   * each `uploadStallMs`; once it has not, the rest counts for nothing against other offers (what its partial
   * holds still does: the disk's free space shows it), what it writes meanwhile is checked against the
   * reserve as it comes, and its catching up promises the rest again, as a resume's offer does, refused
   * DISK_FULL if others took the room meanwhile. Kept while a session merely lived, one key's 32 sessions,
   * each with a small request a minute and no data, held the server's free disk against every other key for
   * as long as they stayed (docs/SECURITY.md, "Findings of the stop 43 pass"). Undefined when there is
   * nothing to wait for: on the path of every record of data, only a stalled upload's waits.
   */
  dataArrived(transferId: string, bytes: number): Promise<void> | undefined {
    const promise = this.#promises.get(transferId);
    if (!promise?.flow || promise.client === undefined) return undefined;
    switch (promise.flow.arrived(bytes, this.#now())) {
      case 'flowing':
        return undefined;
      case 'caught-up':
        // Made again in full (with a fresh flow) only if it fits; refused, it stays stalled.
        return this.#reserve(promise.client, transferId, promise.bytes, { awaitsData: true });
      case 'behind':
        // Its rest counts for nothing: what it writes meanwhile must fit the reserve itself.
        return this.#takeBytes(bytes);
    }
  }

  /**
   * The server works for the live upload `transferId` until `work` settles, on its own and for a bounded
   * time (re-hashing the chunks its partial holds before PUT_ACCEPT): the client's data waits on the server
   * then, which is no stall of the client's. Its stall timeout starts afresh when the work ends. Not for work
   * the client paces (a delta's signing waits on its reading, `signed`): a client that stopped reading would
   * hold the promise through it.
   */
  busyWith(transferId: string, work: Promise<unknown>): void {
    const busy = this.#promises.get(transferId)?.flow?.busy();
    if (!busy) return;
    const done = (): void => busy.done(this.#now());
    work.then(done, done);
  }

  /**
   * The server signed `bytes` of a delta upload's old file for it and the client read them (its DELTA_BLOCKS
   * records, PROTOCOL.md §5.15.2): while it signs, the client's data waits on the signing, so the signing's
   * pace is the upload's, and keeps its promise (its placing writes old leaves into the partial within it).
   * Paced by the client's reading, never by the server alone: a client that stops reading stops the signing,
   * and its promise stalls. Nothing is checked: only the client's data promises a stalled upload's rest again.
   */
  signed(transferId: string, bytes: number): void {
    this.#promises.get(transferId)?.flow?.signed(bytes, this.#now());
  }

  /**
   * `bytes` a stalled upload writes before it catches up, which no promise covers: DISK_FULL, before they are
   * written, when they would leave less than the reserve (else bytes just under its pace, over 32 sessions,
   * would eat into the reserve unchecked).
   */
  async #takeBytes(bytes: number): Promise<void> {
    if (this.#minFreeDiskBytes <= 0) return;
    await this.load();
    // Its own allocation is not credited back (`''`): these bytes come on top of it.
    const free = await this.#freeBytes('');
    if (free - bytes < this.#minFreeDiskBytes)
      throw new FerryError(
        'DISK_FULL',
        `the upload's data fell behind for over ${readableAge(this.#uploadStallMs)} and its room went to other uploads: ${formatBytes(bytes)} more would leave ${formatBytes(Math.max(0, free - bytes))} free, less than the ${formatBytes(this.#minFreeDiskBytes)} the server keeps (its operator can raise ferry serve --upload-stall-timeout)`,
      );
    if (this.#sample) this.#sample.since += bytes;
  }

  async #reserve(client: string, transferId: string, bytes: number, options: ReserveOptions): Promise<void> {
    await this.load();
    const prior = this.#promises.get(transferId);
    if (this.#clientQuotaBytes > 0) {
      const used = this.usedBy(client) - (prior?.client === client ? prior.bytes : 0);
      if (used + bytes > this.#clientQuotaBytes)
        throw new FerryError(
          'QUOTA_EXCEEDED',
          `${used} of ${this.#clientQuotaBytes} bytes used or promised, ${bytes} more asked`,
        );
    }
    if (this.#maxPartialsPerClient > 0 && prior?.client !== client) {
      const open = [...this.#promises.values()].filter((p) => p.client === client).length;
      if (open >= this.#maxPartialsPerClient)
        throw new FerryError(
          'QUOTA_EXCEEDED',
          `${open} partial transfers open, limit ${this.#maxPartialsPerClient}`,
        );
    }
    if (this.#minFreeDiskBytes > 0) {
      const free = await this.#freeBytes(transferId);
      if (free - bytes < this.#minFreeDiskBytes) {
        // More than is free at all: "would leave 0 B free" read as if it fitted exactly (a new user's pass).
        const room =
          bytes > free
            ? `only ${formatBytes(Math.max(0, free))} is free, and the server keeps ${formatBytes(this.#minFreeDiskBytes)} of it`
            : `which would leave ${formatBytes(free - bytes)} free, less than the ${formatBytes(this.#minFreeDiskBytes)} the server keeps`;
        throw new FerryError(
          'DISK_FULL',
          `the file needs ${formatBytes(bytes)}, ${room}${this.#interruptedNote(client, transferId)} (its operator can lower ferry serve --min-free-disk)`,
        );
      }
      // Only what the offer makes: a resumed offer at the inode reserve was refused, though its partial
      // (data and state log) is there already.
      this.#takeInodes(options.newEntries ?? (prior === undefined ? 1 : 0));
    }
    this.#promises.set(transferId, {
      client,
      bytes,
      ...(options.awaitsData ? { flow: new UploadFlow(bytes, this.#uploadStallMs, this.#now()) } : {}),
    });
  }

  /** Transfer `transferId` placed its file: its promise becomes bytes its client has stored. */
  placed(transferId: string): void {
    const promise = this.#promises.get(transferId);
    if (!promise) return;
    this.#promises.delete(transferId);
    // Its bytes are real now, but the current sample may predate them: count what it did not show.
    if (this.#sample)
      this.#sample.since += Math.max(0, promise.bytes - (this.#sample.allocated.get(transferId) ?? 0));
    if (promise.client !== undefined)
      this.#placed.set(promise.client, (this.#placed.get(promise.client) ?? 0) + promise.bytes);
  }

  /**
   * Of the promise of `transferId`, `bytes` were placed (a batch of small files, PROTOCOL.md §5.14, where
   * some entries may be refused): those become stored, the rest of the promise ends.
   */
  placedPart(transferId: string, bytes: number): void {
    const promise = this.#promises.get(transferId);
    if (!promise) return;
    this.#promises.set(transferId, { client: promise.client, bytes: Math.min(bytes, promise.bytes) });
    this.placed(transferId);
  }

  /**
   * No session holds transfer `transferId` any more (a hang-up, a CANCEL, an error, a failed finish): its
   * promise shrinks to what its partial holds on disk, which the disk's free space already shows and its
   * client's quota still counts. A promise is for a live transfer: kept in full after the session, one key's
   * offers alone (32 sessions, each offering 2 GiB and hanging up) reserved the free disk from every other
   * key until the sweep, a day later (docs/SECURITY.md, "Findings of the stop 42 pass"). A resume promises
   * the rest again at its offer, and may then be refused DISK_FULL. A partial not on this disk (an object
   * store's, or none yet) keeps its promise: `releaseIfAbsent` ends one never created.
   */
  async settle(transferId: string): Promise<void> {
    const promise = this.#promises.get(transferId);
    if (!promise) return;
    const { dataPath, logPath } = serverPartialPaths(this.#partialDir, transferId);
    const data = await allocatedBytes(dataPath);
    if (data === undefined) return;
    const held = data + ((await allocatedBytes(logPath)) ?? 0);
    // A resume may have claimed it again meanwhile (its offer's promise is the one that stands then).
    if (this.#promises.get(transferId) !== promise || this.#isHeld(transferId)) return;
    this.#promises.set(transferId, { client: promise.client, bytes: Math.min(promise.bytes, held) });
  }

  /** The partial of `transferId` is gone (removed, swept, or never created): its promise ends. */
  released(transferId: string): void {
    // Freed space shows at the next sample; until then the estimate errs low, which is safe.
    this.#promises.delete(transferId);
  }

  /** Ends the promise of `transferId` if its partial is not on disk (an open that failed before creating it). */
  async releaseIfAbsent(transferId: string): Promise<void> {
    if ((await allocatedBytes(serverPartialPaths(this.#partialDir, transferId).dataPath)) === undefined)
      this.released(transferId);
  }

  /** Bytes `client` (hex key) has placed or has promised to open partials, this server run. */
  usedBy(client: string): number {
    let used = this.#placed.get(client) ?? 0;
    for (const promise of this.#promises.values()) if (promise.client === client) used += promise.bytes;
    return used;
  }

  /** Bytes promised to open partials, all clients together (and partials found at start). */
  get promisedBytes(): number {
    let total = 0;
    for (const promise of this.#promises.values()) total += promise.bytes;
    return total;
  }

  /**
   * Free bytes on the root's disk, less what every promise but `transferId`'s own (which the caller is
   * replacing, and whose allocated bytes are its to reuse) has not yet allocated. One reading of `statfs`
   * and of the partials' allocations serves offers for FREE_SAMPLE_MS; a promise made since counts in full,
   * so the estimate only errs low.
   */
  async #freeBytes(transferId: string): Promise<number> {
    const now = this.#now();
    if (!this.#sample || now - this.#sample.at > FREE_SAMPLE_MS) {
      const fs = await statfs(this.#root);
      const allocated = new Map<string, number>();
      for (const id of this.#promises.keys()) allocated.set(id, await this.#allocated(id));
      this.#sample = {
        at: now,
        free: fs.bavail * fs.bsize,
        allocated,
        since: 0,
        freeInodes: fs.files > 0 ? fs.ffree : Infinity,
        inodesSince: 0,
      };
    }
    const { free, allocated, since } = this.#sample;
    let outstanding = 0;
    for (const [id, promise] of this.#promises)
      if (id !== transferId && promise.flow?.stalled(now) !== true)
        outstanding += Math.max(0, promise.bytes - (allocated.get(id) ?? 0));
    return free - since - outstanding + (allocated.get(transferId) ?? 0);
  }

  /**
   * The reserve in inodes: every file, directory and link takes one, whatever its bytes, so a client making
   * entries of no bytes (empty or one-byte files, directories, links) would exhaust a file system's inodes
   * while its free bytes stayed far above the reserve, and the server's own bookkeeping (partials, state
   * logs, the files pairing writes) could make no new file. One inode is kept per ENTRY_BYTES of the byte
   * reserve (64 MiB: 16,384), as the quota counts an entry ENTRY_BYTES. Counted against the reading `#freeBytes`
   * took, and what was taken since, so it only errs low.
   */
  #takeInodes(count: number): void {
    if (count === 0) return;
    const sample = this.#sample!;
    const reserved = Math.ceil(this.#minFreeDiskBytes / ENTRY_BYTES);
    const free = sample.freeInodes - sample.inodesSince;
    if (free - count < reserved)
      throw new FerryError(
        'DISK_FULL',
        `${count === 1 ? 'a new entry needs an inode' : `${count} new entries need ${count} inodes`}, which would leave ${Math.max(0, free - count)} free, less than the ${reserved} the server keeps (one per ${ENTRY_BYTES} bytes of ferry serve --min-free-disk, which its operator can lower)`,
      );
    sample.inodesSince += count;
  }

  /**
   * What `client`'s own partials of interrupted uploads (its promises no session holds, but `transferId`'s)
   * take of the disk, for a DISK_FULL refusal a person reads: their count and bytes and when the sweeper
   * removes them, never a path (the text travels, PROTOCOL.md §5.1). Only the client's own: another client's
   * interrupted uploads, their number and sizes, are not this one's to learn. Empty when there are none. The
   * one note of every DISK_FULL: an upload's (`reserve`) and new directories' and links' (`chargeEntries`).
   */
  #interruptedNote(client: string, transferId?: string): string {
    let count = 0;
    let bytes = 0;
    for (const [id, promise] of this.#promises) {
      if (promise.client !== client || id === transferId || this.#isHeld(id)) continue;
      count++;
      bytes += promise.bytes;
    }
    if (count === 0) return '';
    const held = `; ${count} ${count === 1 ? 'partial of your interrupted uploads holds' : 'partials of your interrupted uploads hold'} ${formatBytes(bytes)} of the disk, which resuming them uses, not frees,`;
    return this.#partialMaxAgeMs === undefined
      ? `${held} kept until the operator removes them`
      : `${held} removed ${readableAge(this.#partialMaxAgeMs)} after their last write`;
  }

  /** Bytes the partial of `transferId` (data and state log) takes on disk now. */
  async #allocated(transferId: string): Promise<number> {
    const { dataPath, logPath } = serverPartialPaths(this.#partialDir, transferId);
    return ((await allocatedBytes(dataPath)) ?? 0) + ((await allocatedBytes(logPath)) ?? 0);
  }

  /**
   * Partials found on disk (left by an earlier run) are promised what they hold (their allocated blocks, not
   * their sparse length): no session holds them, and a resume promises the rest at its offer. Their client is
   * unknown until it offers the transfer again.
   */
  load(): Promise<void> {
    this.#loaded ??= (async () => {
      let found: Array<{ key: string }>;
      try {
        found = await serverPartialStore(this.#partialDir).list();
      } catch {
        return; // no partial directory yet: nothing was promised
      }
      for (const { key: id } of found) {
        if (this.#promises.has(id)) continue;
        try {
          // No session holds it: promised what it holds on disk (see `settle`), not what it may grow to.
          const { dataPath, logPath } = serverPartialPaths(this.#partialDir, id);
          const data = await allocatedBytes(dataPath);
          if (data === undefined) continue;
          this.#promises.set(id, { client: undefined, bytes: data + ((await allocatedBytes(logPath)) ?? 0) });
        } catch {
          // removed meanwhile, or only a state file: nothing promised
        }
      }
    })();
    return this.#loaded;
  }
}

/** Bytes a file takes on disk (its allocated blocks, not its length: partials are sparse); undefined if absent. */
async function allocatedBytes(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).blocks * 512;
  } catch {
    return undefined;
  }
}

/** `ms` as a person reads an age: `24 h`, `90 min`, `30 s`. */
function readableAge(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 1000)} s`;
}

/** `1 entry`, `2 entries`: directories or links counted in a refusal a user reads. */
function entries(count: number, what = ''): string {
  return `${count} ${what}${count === 1 ? 'entry' : 'entries'}`;
}
