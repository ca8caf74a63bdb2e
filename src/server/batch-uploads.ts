import { ERROR_CODES, FerryError } from '../errors/index.js';
import { BatchReceiver } from '../machines/index.js';
import {
  PERMISSION_DOWNLOAD,
  type BatchEntryResult,
  type BatchEndMessage,
  type BatchEntry,
  type PutBatchMessage,
} from '../protocol/index.js';
import type { SmallFile } from '../transfer/index.js';
import { BatchClaims } from './batch-claims.js';
import { entryRefusal } from './entry-refusal.js';
import { placeStagedEntries } from './place-staged-entries.js';
import { batchDestinationOf, type BatchDestination, type StagedEntry } from './batch-destination.js';
import { locateBatchEntries } from './locate-batch-entries.js';
import { openBatch, type OpenBatch, type StagingEntry } from './open-batch.js';
import { stagedEntriesOf } from './staged-entries-of.js';
import type { SessionIo } from './session-io.js';
import { StorageLimits } from './storage-limits.js';
import type { JoinTarget, TransferClaim } from './transfer-registry.js';

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
  /** The entries this session claimed (PROTOCOL.md §6.2, one writer per file). */
  readonly #claims: BatchClaims;
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
    this.#claims = new BatchClaims((transferId) => io.ctx.registry.release(transferId, this));
  }

  /**
   * Resolves once the batch a PUT_BATCH opens may be held (BatchAdmission: per client and in total, a batch's
   * data is in memory until it is placed); a record of the open batch goes on at once. The session waits here
   * with its reading, so a client past the bound is slowed by TCP, never refused.
   */
  async admit(): Promise<void> {
    if (this.#open !== undefined || this.#admitted !== undefined) return;
    this.#admitted = await this.#io.ctx.batchAdmission.admit(
      this.#io.clientKey.toString('hex'),
      this.#io.stopped,
    );
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

  /** Batches ended and being placed now, for `SessionState`. */
  get settling(): number {
    return this.#settling.size;
  }

  /** Whether a batch is being received (a PUT_BATCH without its BATCH_END yet), for `SessionState`. */
  get receiving(): boolean {
    return this.#open !== undefined;
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
  surrender(transferId: string): Promise<void> {
    return this.#claims.surrender(transferId);
  }

  /** TransferClaim: a batch entry has no partial to join. */
  partialOf(): undefined {
    return undefined;
  }

  #openBatch(message: PutBatchMessage): OpenBatch {
    const admission = this.#admitted;
    if (admission === undefined) throw new FerryError('INTERNAL', 'a batch opened without its admission');
    this.#admitted = undefined;
    return openBatch(message, admission);
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
    await io.ctx.hashCache.spend(io.clientKey, size, io.stopped);
  }

  /** Refuses entry `index` of `batch` for `err`, or throws it when it ends the session. */
  #refuse(batch: OpenBatch, index: number, path: string, err: unknown): void {
    const error = entryRefusal(err);
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
    const located = await locateBatchEntries(batch, entries, {
      io,
      owner: this,
      claims: this.#claims,
      destination: this.#destination,
    });
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
          // Each entry is a new file: an inode, though the batch's promise is already there.
          await storage.reserve(io.clientKey, batch.promiseId, batch.promised + bytes, { newEntries: 1 });
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
    const all = await stagedEntriesOf(batch, this.#destination);
    // Entries a newer session took over meanwhile are left to it; the others are placing from here on.
    const dropped: StagedEntry[] = [];
    const kept = all.filter(({ index, transferId, entry, staged }) => {
      if (!this.#claims.tookOver(transferId)) return true;
      dropped.push(staged);
      this.#refuse(batch, index, entry.path, new FerryError('TRANSFER_TAKEN_OVER'));
      return false;
    });
    for (const { transferId } of kept) this.#claims.placing(transferId, batch.placement);
    await this.#destination.discard(dropped);
    const outcomes = await placeStagedEntries(kept, {
      destination: this.#destination,
      mayCompare: (transferId, path, size) => this.#mayCompare(transferId, path, size),
    });
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
    this.#claims.released(batch.claimed, batch.placement);
  }
}
