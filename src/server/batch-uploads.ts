import { randomBytes } from 'node:crypto';
import { ERROR_CODES, FerryError, toFerryError } from '../errors/index.js';
import { BatchReceiver } from '../machines/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  type BatchEntryResult,
  type BatchEndMessage,
  type BatchEntry,
  type PutBatchMessage,
} from '../protocol/index.js';
import type { SmallFile, SmallFileOutcome } from '../transfer/index.js';
import {
  batchDestinationOf,
  type BatchDestination,
  type BatchTarget,
  type StagedEntry,
} from './batch-destination.js';
import type { SessionIo } from './session-io.js';
import { StorageLimits } from './storage-limits.js';
import type { JoinTarget, TransferClaim } from './transfer-registry.js';
import { transferIdOf } from './transfer-id.js';

/** Entries of a batch checked and located at once (see BatchUploads.#locateAll). */
const LOCATES_AT_ONCE = 16;

/** Error categories that refuse one entry of a batch; anything else ends the session (as in §5.1). */
const ENTRY_SCOPED = new Set(['trust', 'path', 'transfer', 'storage']);

/** An entry checked, claimed and charged, on its way to its name (BatchUploads.#stageRecord). */
interface StagingEntry {
  readonly index: number;
  /** What its storage promise grew by (0 for an entry compared with an existing file). */
  readonly bytes: number;
  readonly transferId: string;
  /** The entry as the client sent it (its path for the log and the dashboard). */
  readonly entry: BatchEntry;
  readonly file: SmallFile;
}

/**
 * The batch whose records are arriving (PROTOCOL.md §5.14): each record's entries are checked, claimed,
 * charged and staged (verified and written durable to temporaries) as the record arrives; BATCH_END then
 * only places the names.
 */
interface OpenBatch {
  readonly ref: number;
  readonly overwrite: boolean;
  readonly chunkBytes: number;
  /** One storage promise for the whole batch, grown entry by entry in batch order. */
  readonly promiseId: string;
  promised: number;
  /** Entries received so far: the index of the next record's first entry. */
  received: number;
  /** Directories an entry of this batch went into already (see #locate). */
  readonly dirs: Set<string>;
  readonly claimed: string[];
  readonly results: BatchEntryResult[];
  /** Each record's entries being staged, and their staging (rejects only if the worker fails). */
  readonly records: Array<{ entries: StagingEntry[]; staged: Promise<StagedEntry[]> }>;
  /** The records' checks, one record after the other; rejects with what ends the session. */
  chain: Promise<void>;
  /** Settles the entries' claims once they are placed (see #claims). */
  readonly placed: () => void;
  /** Gives back this batch's place among the batches the server holds (BatchAdmission); idempotent. */
  readonly admission: () => void;
  readonly placement: Promise<void>;
}

/**
 * The batch half of a server session (PROTOCOL.md §5.14): the BatchReceiver machine checks the exchange;
 * each complete batch is resolved here with the single-file path's policies (the client's root, `.ferry`,
 * permissions, file size limit, storage limits and quotas charged before writing, overwrite or compare),
 * then placed through its BatchDestination (the worker thread on disk, or the server's object store), and
 * answered with one BATCH_DONE.
 */
export class BatchUploads implements TransferClaim {
  readonly #io: SessionIo;
  readonly #machine = new BatchReceiver();
  readonly #settling = new Set<Promise<void>>();
  /**
   * The settling of the batch ended last (never rejects): the next one places its names after it, so names
   * are placed in arrival order (a name in both batches in flight ends as the later one sent) and BATCH_DONEs
   * go out in that order. Its entries are still staged as they arrive.
   */
  #lastSettling: Promise<void> = Promise.resolve();
  #open: OpenBatch | undefined;
  /**
   * The entries this session claimed (PROTOCOL.md §6.2, one writer per file): before their batch is placing,
   * `undefined` (a newer session's claim takes the entry, which is then refused TRANSFER_TAKEN_OVER); once
   * placing, the placement, which a newer claim waits for.
   */
  readonly #claims = new Map<string, Promise<void> | undefined>();
  readonly #takenOver = new Set<string>();
  /** Where the entries land: the one place the disk and the object store differ. */
  readonly #destination: BatchDestination;
  /** The place of the batch the next PUT_BATCH opens, taken before its first record is received. */
  #admitted: (() => void) | undefined;
  files = 0;
  bytes = 0;

  /** TransferClaim: this session's number on the server (newer sessions take over, §6.2). */
  get sessionSeq(): number {
    return this.#io.events.sessionId;
  }

  constructor(io: SessionIo) {
    this.#io = io;
    this.#destination = batchDestinationOf(io);
  }

  /**
   * Resolves once the batch a PUT_BATCH opens may be held (BatchAdmission: per client and in total, a batch's
   * data is in memory until it is placed); a record of the open batch goes on at once. The session waits here
   * with its reading, so a client past the bound is slowed by TCP, never refused.
   */
  async admit(): Promise<void> {
    if (this.#open !== undefined || this.#admitted !== undefined) return;
    this.#admitted = await this.#io.ctx.batchAdmission.admit(this.#io.clientKey.toString('hex'));
  }

  /**
   * Takes a PUT_BATCH or BATCH_END. After the end, `finished` settles once BATCH_DONE is sent; it
   * rejects only with what ends the session.
   */
  receive(message: PutBatchMessage | BatchEndMessage): { finished?: Promise<void> } {
    if (message.type === 'PUT_BATCH') {
      this.#machine.receive(message);
      this.#destination.warm();
      const batch = (this.#open ??= this.#openBatch(message));
      const first = batch.received;
      batch.received += message.entries.length;
      // One record after the other, so charges and refusals follow batch order (§5.14).
      batch.chain = batch.chain.then(() => this.#stageRecord(batch, message.entries, first));
      batch.chain.catch(() => undefined); // surfaced at BATCH_END, or dropped with the batch
      return {};
    }
    this.#machine.end(message);
    const batch = this.#open!;
    this.#open = undefined;
    const finished = this.#lastSettling.then(() => this.#settle(batch));
    const tracked = finished.catch(() => undefined).finally(() => this.#settling.delete(tracked));
    this.#settling.add(tracked);
    this.#lastSettling = tracked;
    return { finished };
  }

  /** Waits for the batches being written (their files are placed or refused); the receiver stays usable. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#settling]);
  }

  /**
   * The session ended: a batch without its BATCH_END is dropped (its temporaries removed, nothing placed,
   * its claims and storage promise released; §5.14: the client sends it again), then as `close`.
   */
  async abandon(): Promise<void> {
    const batch = this.#open;
    this.#open = undefined;
    this.#admitted?.();
    this.#admitted = undefined;
    if (batch) {
      await batch.chain.catch(() => undefined);
      const staged = await Promise.allSettled(batch.records.map((record) => record.staged));
      for (const result of staged)
        if (result.status === 'fulfilled') await this.#destination.discard(result.value);
      this.#release(batch);
    }
    await this.close();
  }

  /** TransferClaim: a batched file has no partial, so no stream can join it (PROTOCOL.md §5.13.2, §5.14). */
  joinTargetOf(): JoinTarget | undefined {
    return undefined;
  }

  /** TransferClaim: a newer session of this client wants an entry's file (TransferRegistry.claim). */
  async surrender(transferId: string): Promise<void> {
    if (!this.#claims.has(transferId)) return;
    const placing = this.#claims.get(transferId);
    if (placing) return placing;
    // Not placing yet: the entry lets go at once (so two sessions never wait on each other) and is refused.
    this.#takenOver.add(transferId);
    this.#claims.delete(transferId);
    this.#io.ctx.registry.release(transferId, this);
  }

  /** TransferClaim: a batch entry has no partial to join. */
  partialOf(): undefined {
    return undefined;
  }

  #openBatch(message: PutBatchMessage): OpenBatch {
    const admission = this.#admitted;
    if (admission === undefined) throw new FerryError('INTERNAL', 'a batch opened without its admission');
    this.#admitted = undefined;
    let placed = (): void => undefined;
    const placement = new Promise<void>((resolve) => (placed = resolve));
    return {
      ref: message.ref,
      overwrite: message.overwrite,
      chunkBytes: message.chunkBytes,
      promiseId: `batch-${randomBytes(12).toString('hex')}`,
      promised: 0,
      received: 0,
      dirs: new Set(),
      claimed: [],
      results: [],
      records: [],
      chain: Promise.resolve(),
      placed,
      placement,
      admission,
    };
  }

  /**
   * Checks, claims and locates every entry of one record (PROTOCOL.md §5.14, §6.2), LOCATES_AT_ONCE at a
   * time. The first entry into each directory goes alone, in
   * batch order, so a directory the batch creates is created and charged once, then known to the rest.
   */
  async #locateAll(
    batch: OpenBatch,
    entries: readonly BatchEntry[],
  ): Promise<Array<{ transferId: string; target: BatchTarget } | Error>> {
    const io = this.#io;
    const located: Array<{ transferId: string; target: BatchTarget } | Error> = [];
    const locate = async (k: number, rooted: readonly string[]): Promise<void> => {
      try {
        const transferId = transferIdOf(io.clientKey, rooted.join('/'));
        // Claimed like a transfer (§6.2), before the destination is looked at: a session of this client
        // still writing this file completes or lets go first, so a re-send after a cut finds what the cut
        // batch placed.
        await io.ctx.registry.claim(transferId, this, io.clientKey);
        this.#claims.set(transferId, undefined);
        batch.claimed.push(transferId);
        located[k] = { transferId, target: await this.#destination.locate(rooted) };
      } catch (err) {
        located[k] = toFerryError(err);
      }
    };
    const later: Array<[number, string[]]> = [];
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k]!;
      let rooted: string[];
      try {
        io.require(PERMISSION_UPLOAD, 'upload');
        if (io.ctx.maxFileBytes > 0 && entry.size > io.ctx.maxFileBytes)
          throw new FerryError('FILE_TOO_LARGE', `${entry.size} bytes, limit ${io.ctx.maxFileBytes}`);
        rooted = io.rooted(entry.path);
      } catch (err) {
        located[k] = toFerryError(err);
        continue;
      }
      const dir = rooted.slice(0, -1).join('/');
      if (batch.dirs.has(dir)) {
        later.push([k, rooted]);
      } else {
        batch.dirs.add(dir);
        await locate(k, rooted);
      }
    }
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < later.length) {
        const [k, rooted] = later[next++]!;
        await locate(k, rooted);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOCATES_AT_ONCE, later.length) }, lane));
    return located;
  }

  /**
   * Whether this client may be told if the existing file at `path` holds its entry (PROTOCOL.md §5.4): only
   * a client that may download it, or the client whose own upload placed this very file (a re-send after a
   * cut); else FILE_EXISTS. Reading a file to compare it is hashing on request (docs/SECURITY.md): paid for.
   */
  async #mayCompare(transferId: string, path: string, size: number): Promise<void> {
    const io = this.#io;
    if (!io.may(PERMISSION_DOWNLOAD) && !(await this.#destination.placedIt(transferId, path)))
      throw new FerryError('FILE_EXISTS');
    await io.ctx.hashCache.spend(io.clientKey, size);
  }

  /** Refuses entry `index` of `batch` for `err`, or throws it when it ends the session. */
  #refuse(batch: OpenBatch, index: number, path: string, err: unknown): void {
    const error = toFerryError(err);
    if (!ENTRY_SCOPED.has(error.category)) throw error;
    batch.results[index] = { status: 'refused', code: error.wireCode ?? ERROR_CODES.INTERNAL.wire };
    // The log and the dashboard see each file as on the one-file path (server-log.ts).
    this.#io.events.operationRefused(batch.ref, error, path);
  }

  /**
   * One PUT_BATCH record's entries, as the record arrives (issue 14: before, all of this waited for
   * BATCH_END): located (1), then in batch order compared or charged (2), so an entry that does not fit is
   * refused before anything is written and the entries before it still go (PROTOCOL.md §5.14), then staged
   * by the destination (3): verified, and on disk written durable to temporaries, no final name yet. The
   * staging is not waited for here, so the next record is checked while this one is written.
   */
  async #stageRecord(batch: OpenBatch, entries: readonly BatchEntry[], first: number): Promise<void> {
    const io = this.#io;
    const { storage } = io.ctx;
    for (let k = 0; k < entries.length; k++) batch.results[first + k] = { status: 'placed' };
    // 1. Each entry's checks, claim and destination, side by side: each waits on a few filesystem calls
    // (issue 14: one after the other they were most of a batch's time on the event loop).
    const located = await this.#locateAll(batch, entries);
    const staging: StagingEntry[] = [];
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k]!;
      const index = first + k;
      try {
        // 2. In batch order: what is compared or promised.
        const found = located[k]!;
        if (found instanceof Error) throw found;
        const { transferId, target } = found;
        const compareExisting = target.exists && !batch.overwrite;
        let bytes = 0;
        if (compareExisting) {
          await this.#mayCompare(transferId, target.path, entry.size);
        } else {
          bytes = StorageLimits.promiseOf(entry.size, batch.chunkBytes);
          await storage.reserve(io.clientKey, batch.promiseId, batch.promised + bytes);
          batch.promised += bytes;
        }
        const file: SmallFile = {
          data: entry.data,
          fileDigest: entry.fileDigest,
          chunkBytes: batch.chunkBytes,
          mode: entry.mode,
          mtimeMs: entry.mtimeMs,
          dir: target.dir,
          path: target.path,
          overwrite: batch.overwrite,
          compareExisting,
        };
        staging.push({ index, bytes, transferId, entry, file });
      } catch (err) {
        this.#refuse(batch, index, entry.path, err);
      }
    }
    if (staging.length === 0) return;
    // 3. Verified and written while the next records arrive; placed at BATCH_END (#finish).
    const staged = this.#destination.stage(staging);
    staged.catch(() => undefined); // waited for by #finish or #abandon
    batch.records.push({ entries: staging, staged });
  }

  /**
   * Places `entries` (staged); an entry whose name was taken between locating and placing it (a session of
   * this client still settling the batch this one re-sends, or any other writer) is decided again as an
   * existing one: compared when #mayCompare allows it, FILE_EXISTS otherwise.
   */
  async #placeAll(
    entries: ReadonlyArray<{ transferId: string; file: SmallFile; staged: StagedEntry }>,
  ): Promise<SmallFileOutcome[]> {
    const outcomes = await this.#destination.placeStaged(entries.map(({ staged }) => staged));
    const again: Array<{ k: number; transferId: string; file: SmallFile }> = [];
    for (let k = 0; k < entries.length; k++) {
      if (outcomes[k]!.status !== 'taken') continue;
      const { transferId, file } = entries[k]!;
      try {
        await this.#mayCompare(transferId, file.path, file.data.length);
        again.push({ k, transferId, file: { ...file, compareExisting: true } });
      } catch (err) {
        const error = toFerryError(err);
        if (!ENTRY_SCOPED.has(error.category)) throw error;
        outcomes[k] = { status: 'refused', code: error.code };
      }
    }
    if (again.length > 0) {
      const compared = await this.#destination.place(again);
      again.forEach(({ k }, j) => (outcomes[k] = compared[j]!));
    }
    return outcomes;
  }

  async #settle(batch: OpenBatch): Promise<void> {
    let results: BatchEntryResult[];
    try {
      results = await this.#finish(batch);
    } finally {
      this.#release(batch);
    }
    await this.#io.send(this.#machine.settled(batch.ref, results));
  }

  /**
   * BATCH_END: waits for the records' staging, then places the names (PROTOCOL.md §5.14: nothing under a
   * final name before the end, and only once its data is durable) and returns a result per entry.
   */
  async #finish(batch: OpenBatch): Promise<BatchEntryResult[]> {
    const io = this.#io;
    const { storage } = io.ctx;
    const { results } = batch;
    await batch.chain;
    const settled = await Promise.allSettled(batch.records.map((record) => record.staged));
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) {
      for (const result of settled)
        if (result.status === 'fulfilled') await this.#destination.discard(result.value);
      throw failed.reason;
    }
    const all: Array<StagingEntry & { staged: StagedEntry }> = [];
    batch.records.forEach((record, r) => {
      const staged = (settled[r] as PromiseFulfilledResult<StagedEntry[]>).value;
      record.entries.forEach((entry, k) => all.push({ ...entry, staged: staged[k]! }));
    });
    // Entries a newer session took over meanwhile are left to it; the others are placing from here on.
    const dropped: StagedEntry[] = [];
    const kept = all.filter(({ index, transferId, entry, staged }) => {
      if (!this.#takenOver.delete(transferId)) return true;
      dropped.push(staged);
      this.#refuse(batch, index, entry.path, new FerryError('TRANSFER_TAKEN_OVER'));
      return false;
    });
    for (const { transferId } of kept) this.#claims.set(transferId, batch.placement);
    await this.#destination.discard(dropped);
    const outcomes = await this.#placeAll(kept);
    let placedBytes = 0;
    outcomes.forEach((outcome, k) => {
      const { index, bytes, transferId, entry } = kept[k]!;
      if (outcome.status === 'refused' || outcome.status === 'taken') {
        this.#refuse(
          batch,
          index,
          entry.path,
          new FerryError(outcome.status === 'taken' ? 'FILE_EXISTS' : outcome.code),
        );
        return;
      }
      results[index] = { status: outcome.status };
      const identical = outcome.status === 'identical';
      io.events.transferStarted(batch.ref, {
        direction: 'upload',
        path: entry.path,
        size: entry.size,
        heldBytes: identical ? entry.size : 0,
        restarted: false,
      });
      io.events.transferFinished(batch.ref, {
        digest: entry.fileDigest,
        transferredBytes: identical ? 0 : entry.size,
        identical,
      });
      if (outcome.status === 'placed') {
        if (outcome.identity) io.ctx.registry.recordPlaced(transferId, Buffer.from(outcome.identity));
        placedBytes += bytes;
        this.files++;
        this.bytes += entry.size;
      }
    });
    storage.placedPart(batch.promiseId, placedBytes);
    return results;
  }

  /** The batch is done with (placed, or dropped): its storage promise and its entries' claims go. */
  #release(batch: OpenBatch): void {
    const io = this.#io;
    io.ctx.storage.released(batch.promiseId);
    batch.admission();
    batch.placed();
    for (const transferId of batch.claimed) {
      this.#takenOver.delete(transferId);
      if (this.#claims.get(transferId) === batch.placement || this.#claims.get(transferId) === undefined) {
        this.#claims.delete(transferId);
        io.ctx.registry.release(transferId, this);
      }
    }
  }
}
