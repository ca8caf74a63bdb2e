import { randomBytes } from 'node:crypto';
import { ERROR_CODES, FerryError, toFerryError } from '../errors/index.js';
import { BatchReceiver, type ReceivedBatch } from '../machines/index.js';
import {
  PERMISSION_DOWNLOAD,
  PERMISSION_UPLOAD,
  type BatchEntryResult,
  type BatchEndMessage,
  type PutBatchMessage,
} from '../protocol/index.js';
import type { SmallFile, SmallFileOutcome } from '../transfer/index.js';
import { batchDestinationOf, type BatchDestination, type BatchTarget } from './batch-destination.js';
import type { SessionIo } from './session-io.js';
import { StorageLimits } from './storage-limits.js';
import type { JoinTarget, TransferClaim } from './transfer-registry.js';
import { transferIdOf } from './transfer-id.js';

/** Entries of a batch checked and located at once (see BatchUploads.#locateAll). */
const LOCATES_AT_ONCE = 16;

/** Error categories that refuse one entry of a batch; anything else ends the session (as in §5.1). */
const ENTRY_SCOPED = new Set(['trust', 'path', 'transfer', 'storage']);

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
   * The entries this session claimed (PROTOCOL.md §6.2, one writer per file): before their batch is placing,
   * `undefined` (a newer session's claim takes the entry, which is then refused TRANSFER_TAKEN_OVER); once
   * placing, the placement, which a newer claim waits for.
   */
  readonly #claims = new Map<string, Promise<void> | undefined>();
  readonly #takenOver = new Set<string>();
  /** Where the entries land: the one place the disk and the object store differ. */
  readonly #destination: BatchDestination;
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
   * Takes a PUT_BATCH or BATCH_END. After the end, `finished` settles once BATCH_DONE is sent; it
   * rejects only with what ends the session.
   */
  receive(message: PutBatchMessage | BatchEndMessage): { finished?: Promise<void> } {
    if (message.type === 'PUT_BATCH') {
      this.#machine.receive(message);
      this.#destination.warm();
      return {};
    }
    const batch = this.#machine.end(message);
    const finished = this.#settle(batch);
    const tracked = finished.catch(() => undefined).finally(() => this.#settling.delete(tracked));
    this.#settling.add(tracked);
    return { finished };
  }

  /** Waits for the batches being written (their files are placed or refused); the receiver stays usable. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#settling]);
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

  /**
   * Checks, claims and locates every entry of `batch` (PROTOCOL.md §5.14, §6.2), LOCATES_AT_ONCE at a
   * time; each claimed transfer id is added to `claimed`. The first entry into each directory goes alone,
   * in batch order, so a directory the batch creates is created and charged once, then known to the rest.
   */
  async #locateAll(
    batch: ReceivedBatch,
    claimed: string[],
  ): Promise<Array<{ transferId: string; target: BatchTarget } | Error>> {
    const io = this.#io;
    const located: Array<{ transferId: string; target: BatchTarget } | Error> = [];
    const locate = async (index: number, rooted: readonly string[]): Promise<void> => {
      try {
        const transferId = transferIdOf(io.clientKey, rooted.join('/'));
        // Claimed like a transfer (§6.2), before the destination is looked at: a session of this client
        // still writing this file completes or lets go first, so a re-send after a cut finds what the cut
        // batch placed.
        await io.ctx.registry.claim(transferId, this);
        this.#claims.set(transferId, undefined);
        claimed.push(transferId);
        located[index] = { transferId, target: await this.#destination.locate(rooted) };
      } catch (err) {
        located[index] = toFerryError(err);
      }
    };
    const later: Array<[number, string[]]> = [];
    const dirs = new Set<string>();
    for (let index = 0; index < batch.entries.length; index++) {
      const entry = batch.entries[index]!;
      let rooted: string[];
      try {
        io.require(PERMISSION_UPLOAD, 'upload');
        if (io.ctx.maxFileBytes > 0 && entry.size > io.ctx.maxFileBytes)
          throw new FerryError('FILE_TOO_LARGE', `${entry.size} bytes, limit ${io.ctx.maxFileBytes}`);
        rooted = io.rooted(entry.path);
      } catch (err) {
        located[index] = toFerryError(err);
        continue;
      }
      const dir = rooted.slice(0, -1).join('/');
      if (dirs.has(dir)) {
        later.push([index, rooted]);
      } else {
        dirs.add(dir);
        await locate(index, rooted);
      }
    }
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < later.length) {
        const [index, rooted] = later[next++]!;
        await locate(index, rooted);
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

  /**
   * Places `entries`; an entry whose name was taken between locating and placing it (a session of this
   * client still settling the batch this one re-sends, or any other writer) is decided again as an existing
   * one: compared when #mayCompare allows it, FILE_EXISTS otherwise.
   */
  async #placeAll(
    entries: ReadonlyArray<{ transferId: string; file: SmallFile }>,
  ): Promise<SmallFileOutcome[]> {
    const outcomes = await this.#destination.place(entries);
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

  async #settle(batch: ReceivedBatch): Promise<void> {
    const results = await this.#place(batch);
    await this.#io.send(this.#machine.settled(batch.ref, results));
  }

  async #place(batch: ReceivedBatch): Promise<BatchEntryResult[]> {
    const io = this.#io;
    const { storage } = io.ctx;
    const results: BatchEntryResult[] = batch.entries.map(() => ({ status: 'placed' }));
    const refuse = (index: number, err: unknown): void => {
      const error = toFerryError(err);
      if (!ENTRY_SCOPED.has(error.category)) throw error;
      results[index] = { status: 'refused', code: error.wireCode ?? ERROR_CODES.INTERNAL.wire };
      // The log and the dashboard see each file as on the one-file path (server-log.ts).
      io.events.operationRefused(batch.ref, error, batch.entries[index]!.path);
    };
    // One storage promise for the whole batch, grown entry by entry: an entry that does not fit is
    // refused before anything is written, and the entries before it still go (PROTOCOL.md §5.14).
    const promiseId = `batch-${randomBytes(12).toString('hex')}`;
    let promised = 0;
    const placing: Array<{ index: number; bytes: number; transferId: string; file: SmallFile }> = [];
    const claimed: string[] = [];
    let placed = (): void => undefined;
    const placement = new Promise<void>((resolve) => (placed = resolve));
    try {
      // 1. Each entry's checks, claim and destination, side by side: each waits on a few filesystem calls
      // (issue 14: one after the other they were most of a batch's time on the event loop).
      const located = await this.#locateAll(batch, claimed);
      for (let index = 0; index < batch.entries.length; index++) {
        const entry = batch.entries[index]!;
        try {
          // 2. In batch order: what is compared or promised, so an entry that does not fit is refused and
          // the entries before it still go (PROTOCOL.md §5.14).
          const found = located[index]!;
          if (found instanceof Error) throw found;
          const { transferId, target } = found;
          const compareExisting = target.exists && !batch.overwrite;
          let bytes = 0;
          if (compareExisting) {
            await this.#mayCompare(transferId, target.path, entry.size);
          } else {
            bytes = StorageLimits.promiseOf(entry.size, batch.chunkBytes);
            await storage.reserve(io.clientKey, promiseId, promised + bytes);
            promised += bytes;
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
          placing.push({ index, bytes, transferId, file });
        } catch (err) {
          refuse(index, err);
        }
      }
      // Entries a newer session took over meanwhile are left to it; the others are placing from here on.
      const kept = placing.filter(({ index, transferId }) => {
        if (!this.#takenOver.delete(transferId)) return true;
        refuse(index, new FerryError('TRANSFER_TAKEN_OVER'));
        return false;
      });
      for (const { transferId } of kept) this.#claims.set(transferId, placement);
      const outcomes = await this.#placeAll(kept);
      let placedBytes = 0;
      outcomes.forEach((outcome, k) => {
        const { index, bytes, transferId } = kept[k]!;
        if (outcome.status === 'refused' || outcome.status === 'taken') {
          refuse(index, new FerryError(outcome.status === 'taken' ? 'FILE_EXISTS' : outcome.code));
          return;
        }
        results[index] = { status: outcome.status };
        const entry = batch.entries[index]!;
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
          this.bytes += batch.entries[index]!.size;
        }
      });
      storage.placedPart(promiseId, placedBytes);
    } finally {
      storage.released(promiseId);
      placed();
      for (const transferId of claimed) {
        this.#takenOver.delete(transferId);
        if (this.#claims.get(transferId) === placement || this.#claims.get(transferId) === undefined) {
          this.#claims.delete(transferId);
          io.ctx.registry.release(transferId, this);
        }
      }
    }
    return results;
  }
}
