import { FerryError } from '../errors/index.js';
import { LEAF_BYTES, chunkCount, type ChunkRange } from '../protocol/index.js';
import { receivedFileMode } from './received-mode.js';
import type { RootPath } from './root-path.js';
import type { ChunkEntry } from './chunk-log.js';
import { DURABLE_BATCH_BYTES, ReceiverMachine, type FailEffect } from '../machines/index.js';
import type { PartialStore, StoredPartial, TransferHeader } from './partial-store.js';
import { heldLoggedChunks } from './verify-logged-chunks.js';
import { resumeHeldChunks } from './resume-held-chunks.js';
import { LeafCarrier } from './leaf-carrier.js';
import { worthKnowing, type KnownLeafHashes } from './known-leaf-hashes.js';
import { DurableQueue } from './durable-queue.js';

export type { TransferHeader } from './partial-store.js';

export { DURABLE_BATCH_BYTES };

export interface PartialTransferOptions extends TransferHeader {
  /** Drop any partial state first (PUT_OFFER flag FRESH). */
  readonly fresh: boolean;
  /** Aborts when the transfer's caller stops waiting for it: the store drops its requests (OpenPartialOptions). */
  readonly signal?: AbortSignal | undefined;
  /** Held chunks the caller already re-verified with `inspect` (spares a second hashing pass). */
  readonly verified?: readonly ChunkEntry[] | undefined;
  readonly durableBatchBytes?: number;
  /** Called whenever more bytes become verified and durable. */
  readonly onDurable?: (verifiedBytes: number) => void;
  /** Check a joined stream's end digest against its chunks (downloads' stripes, PROTOCOL.md §5.13.6). */
  readonly checkPartDigests?: boolean | undefined;
  /**
   * Where the finished file's leaf hashes are remembered, bound to its identity once placed (issue 16, WARM
   * deltas): the store and the file's place (its absolute path). Only for a file worth it (`worthKnowing`).
   */
  readonly knownLeafHashes?: { readonly store: KnownLeafHashes; readonly place: string } | undefined;
}

/**
 * The receiving side of one transfer: the receiver machine (`ReceiverMachine`, PROTOCOL.md §6.2) driven
 * over a partial in a store (`PartialStore`). The machine decides what the protocol says (which bytes may
 * be trusted, when a batch of verified chunks is made durable, what PROGRESS may count, whether the file
 * may finish); this class applies its effects in order through the store (data durable first, then the log
 * entry; an atomic placement at the end) and feeds the results back. Used by both the server (uploads) and
 * the client (downloads), so both receive by the same rules over the same port.
 */
export class PartialTransfer<Target = RootPath> {
  readonly header: TransferHeader;
  /** True when a partial existed for another source and was discarded (PUT_ACCEPT flag RESTARTED). */
  readonly restarted: boolean;
  /**
   * Bytes of logged chunks that opening read back and re-hashed (0 when the partial was unchanged since it
   * was closed, PROTOCOL.md §9.2): what a server charges to the client's hashing budget.
   */
  readonly rehashedBytes: number;
  readonly #stored: StoredPartial<Target>;
  /** The rules: the only source of chunk hashes, of what is held and of what may be finished. */
  readonly #machine: ReceiverMachine;
  readonly #onDurable: ((verifiedBytes: number) => void) | undefined;
  /** The machine's make-durable effects, applied behind the receiving: data durable first, then the log. */
  readonly #durable: DurableQueue;
  #closed = false;
  /** `acceptPlacedLeaves`' zeros, never written. */
  readonly #carrier = new LeafCarrier();
  readonly #known: PartialTransferOptions['knownLeafHashes'];
  /** Set by a finish with `rememberLater`: `rememberPlaced` records the file. */
  #rememberLater = false;

  private constructor(
    options: PartialTransferOptions,
    stored: StoredPartial<Target>,
    held: readonly ChunkEntry[],
    rehashedBytes: number,
  ) {
    this.rehashedBytes = rehashedBytes;
    this.header = { size: options.size, mtimeMs: options.mtimeMs, chunkBytes: options.chunkBytes };
    this.restarted = stored.restarted;
    this.#stored = stored;
    this.#machine = new ReceiverMachine(options.size, options.chunkBytes, {
      held,
      durableBatchBytes: options.durableBatchBytes,
      checkPartDigests: options.checkPartDigests,
      keepLeafHashes: options.knownLeafHashes !== undefined && worthKnowing(options.size),
    });
    this.#onDurable = options.onDurable;
    // Then the machine learns the batch is durable and says what PROGRESS may now count (PROTOCOL.md §9.2).
    // It always hears, apart from the listener's call: `?.` skips its argument when there is no `onDurable`,
    // and the held bytes, ranges and digest would stay where the open left them.
    this.#durable = new DurableQueue(stored, (batch) => {
      const { verifiedBytes } = this.#machine.durable(batch);
      this.#onDurable?.(verifiedBytes);
    });
    this.#known = options.knownLeafHashes;
  }

  /**
   * Opens the transfer's partial of `key` in `store`, resuming it when the header matches. The chunks the
   * log lists count as held when the store shows the partial unchanged since it was closed; otherwise each
   * is re-hashed, so bytes changed behind our back are dropped (PROTOCOL.md §9.2, `heldLoggedChunks`).
   */
  static async open<Key, Target>(
    store: PartialStore<Key, Target>,
    key: Key,
    options: PartialTransferOptions,
  ): Promise<PartialTransfer<Target>> {
    const header: TransferHeader = {
      size: options.size,
      mtimeMs: options.mtimeMs,
      chunkBytes: options.chunkBytes,
    };
    // A file of at most one chunk keeps no log: there is nothing finer than the whole file to resume, and
    // skipping the log's fsyncs is what makes many small files fast.
    const keepLog = chunkCount(options.size, options.chunkBytes) > 1;
    const stored = await store.open(key, header, { fresh: options.fresh, keepLog, signal: options.signal });
    try {
      const { held, rehashedBytes } = stored.resumed
        ? await resumeHeldChunks(stored, header, options.verified)
        : { held: [], rehashedBytes: 0 };
      return new PartialTransfer(options, stored, held, rehashedBytes);
    } catch (err) {
      await stored.close();
      throw err;
    }
  }

  /**
   * Reads an existing partial without changing it: its header and the logged chunks it holds, by the same
   * policy as `open` (`heldLoggedChunks`). Undefined when there is no usable partial. Used by a downloading client to say what it holds.
   */
  static async inspect<Key>(
    store: PartialStore<Key, unknown>,
    key: Key,
  ): Promise<{ header: TransferHeader; held: ChunkEntry[] } | undefined> {
    const found = await store.inspect(key);
    if (!found) return undefined;
    try {
      return { header: found.header, held: await heldLoggedChunks(found, found.reader, found.header) };
    } finally {
      await found.reader.close();
    }
  }

  /** Bytes of chunks that are verified and durable. */
  get verifiedBytes(): number {
    return this.#machine.verifiedBytes;
  }

  /** The held chunks as ranges, for PUT_ACCEPT. */
  heldRanges(): ChunkRange[] {
    return this.#machine.heldRanges();
  }

  /** SHA-256 over the held chunks' hashes in index order (PROTOCOL.md §5.4). */
  heldDigest(): Buffer {
    return this.#machine.heldDigest();
  }

  /**
   * Writes a data payload at its offset for `stream` (one value per session; parallel streams, §5.13),
   * once the machine has checked it against PROTOCOL.md §5.5.1 and §5.5.3 and hashed it. The write is
   * queued from the same buffer that was hashed, which the caller no longer changes (the store's
   * contract), so the bytes stored are the bytes hashed. `data` is handed over: the caller neither keeps it
   * nor writes it again, since a received record's bytes may live in a block the channel reuses once the
   * store has written them (`releaseReceived`).
   */
  async writeData(offset: number, data: Buffer, stream: unknown = this): Promise<void> {
    this.#durable.throwIfFailed();
    const write = this.#machine.data(stream, offset, data);
    // A chunk sent again after a mismatch: the failed attempt's writes must land first, or one of them
    // could overwrite the new bytes after they were hashed.
    if (write.afterPending) await this.#stored.flushWrites();
    await this.#stored.write(write.offset, write.data);
  }

  /**
   * Resolves once every `writeData` so far has reached the file (not durably: no sync), so their buffers
   * may be reused (a delta download's read buffers, `delta-download.ts`).
   */
  async flushWrites(): Promise<void> {
    await this.#stored.flushWrites();
  }

  /**
   * Writes `pieces` (contiguous, from `offset`) into the partial outside the rules: they count for nothing,
   * are hashed by nothing and may be written over, until `acceptPlacedLeaves` names them. Resolves once they
   * have landed (not durably). For a delta's receiver, which writes the old file's leaves where they lie
   * while it signs or scans them (`delta-old-file.ts`, `LeafPlacing`); never over a verified chunk (other
   * chunks may be verified meanwhile: the upload's server serves the session while it signs). With
   * `unbuffered`, written around the page cache where the store can (`StoredPartial.writeUnbuffered`: the
   * pieces must be aligned for direct I/O, as the signing's are). Resolves true when they were: nothing of
   * them is left in the page cache for a sync to write back (`syncWritten` is for the other bytes).
   */
  async placeUnverified(
    offset: number,
    pieces: readonly Buffer[],
    options: { readonly unbuffered?: boolean } = {},
  ): Promise<boolean> {
    this.#durable.throwIfFailed();
    const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
    const chunkBytes = this.header.chunkBytes;
    for (let index = Math.floor(offset / chunkBytes); index * chunkBytes < offset + length; index++)
      if (this.#machine.stateOf(index) === 'verified')
        throw new FerryError('INTERNAL', 'placing unverified bytes over a verified chunk');
    if (options.unbuffered === true && (await this.#stored.writeUnbuffered?.(offset, pieces)) === true)
      return true;
    let at = offset;
    for (const piece of pieces) {
      await this.#stored.write(at, piece);
      at += piece.length;
    }
    await this.#stored.flushWrites();
    return false;
  }

  /**
   * The descriptor `placeUnverified` writes around the page cache through, lent to a writer on another thread
   * (a delta download's leaf hash thread, writing its old file's leaves through where they lie as it hashes
   * them, issue 16), or undefined when the store has none. What it writes counts for nothing, as
   * `placeUnverified`'s bytes; its user writes only where no chunk is verified, and gives it back once none
   * of its writes is in flight, saying the bytes it wrote (closing the partial waits for that).
   */
  lendUnbuffered(): Promise<{ readonly fd: number; readonly giveBack: (bytes: number) => void } | undefined> {
    return this.#stored.lendUnbuffered?.() ?? Promise.resolve(undefined);
  }

  /**
   * Makes every byte written so far durable, vouching for nothing (no log entry): queued behind the
   * make-durable effects like one of them, and resolving once done. For a delta upload's server while it
   * places the old file's leaves (`delta-old-file.ts`): the disk writes them back while the signing goes on,
   * so the first fsync after the chunks are verified has little left to write (issue 16: it took ~0.45 s of
   * a 1 GiB upload's end). A failure is reported like a failed flush, by the next write or by finish/close.
   */
  syncWritten(): Promise<void> {
    return this.#durable.syncWritten();
  }

  /**
   * Data for `stream` at `offset` (on a leaf boundary) that is already in the partial: whole leaves, one per
   * hash of `leafHashes`, placed by `placeUnverified` from the very bytes each hash was taken over and not
   * written since (the caller's to ensure). The rules check and hash it as PUT_DATA's (§5.5.1, §5.5.3): the
   * chunk hasher takes each leaf's hash ready-made (`noteLeafHash`) from a carrier of zeros that is never
   * written, so the chunk is still checked against the sender's hash at PUT_CHUNK. Nothing is written.
   */
  acceptPlacedLeaves(offset: number, leafHashes: readonly Buffer[], stream: unknown = this): void {
    this.#durable.throwIfFailed();
    if (offset % LEAF_BYTES !== 0) throw new FerryError('INTERNAL', 'placed leaves off a leaf boundary');
    this.#carrier.carry(leafHashes, (carrier) => this.#machine.data(stream, offset, carrier));
  }

  /**
   * Chunk `index` whole, already in the partial: placed by `placeUnverified` (or through `lendUnbuffered`)
   * from the very bytes each of `leafHashes` was taken over, and not written since (the caller's to ensure).
   * The rules verify it as `acceptPlacedLeaves` and `completeChunk` would (its root must be `chunkHash`, else
   * CHUNK_MISMATCH and it stays unverified; never over a verified or open chunk), in one step per chunk and
   * without a carrier of its bytes: a delta download takes thousands of leaves so (issue 16).
   */
  acceptPlacedChunk(
    index: number,
    leafHashes: readonly Buffer[],
    chunkHash: Buffer,
    stream: unknown = this,
  ): void {
    this.#durable.throwIfFailed();
    const effect = this.#machine.placedChunk(stream, index, leafHashes, chunkHash);
    if (effect?.kind === 'fail') throw failure(effect);
    if (effect) this.#durable.makeDurable(effect.entries);
  }

  /**
   * Closes a chunk whose data is all written: its hash must match (PROTOCOL.md §5.5.2), else it stays
   * unverified (CHUNK_MISMATCH) and the transfer cannot finish until it is received again.
   */
  completeChunk(index: number, chunkHash: Buffer, stream: unknown = this): void {
    const effect = this.#machine.chunk(stream, index, chunkHash);
    if (effect?.kind === 'fail') throw failure(effect);
    if (effect) this.#durable.makeDurable(effect.entries);
  }

  /**
   * The end of a joined stream (PUT_END of a joined session, GET_END of a stripe; PROTOCOL.md §5.13.4,
   * §5.13.6): the chunks it left half-sent become unverified; with `checkPartDigests`, its digest must be
   * the one over the chunks it verified (DIGEST_MISMATCH otherwise; the verified chunks are kept).
   */
  endPart(stream: unknown, digest: Buffer): void {
    const effect = this.#machine.partEnd(stream, digest);
    if (effect) throw failure(effect);
  }

  /** A stream ended: the chunks it left half-sent become unverified and may be sent by another (§5.13.5). */
  abandonChunks(stream: unknown): void {
    this.#machine.streamEnded(stream);
  }

  /**
   * Verifies the whole file against `expectedDigest`, makes it durable and gives it its final name
   * (PROTOCOL.md §9.3). With `overwrite` false, an existing destination is never replaced. The placed file's
   * leaf hashes are recorded (`knownLeafHashes`) before this resolves, or with `rememberLater` only when the
   * caller says so (`rememberPlaced`): a server answers PUT_DONE first (issue 16: the record's encoding, 2-11
   * ms of the event loop for 1 GiB, was on the way to it).
   */
  async finish(
    expectedDigest: Buffer,
    target: Target,
    options: { mode: number; overwrite: boolean; mtimeMs?: number; rememberLater?: boolean },
  ): Promise<Buffer> {
    // The machine finishes only over hashes of the bytes now in the partial (every chunk verified, none
    // open). The last batch it would make durable is not logged: the store's finish makes every byte
    // durable before it places the file (PROTOCOL.md §9.3), and the log goes with the placement, so a sync of
    // the data and one of the log per file are spared (issue 14). Those chunks are never claimed held: a
    // finish that fails (FILE_EXISTS) keeps the partial without them, and a resume receives them again.
    let digest: Buffer | undefined;
    for (const effect of this.#machine.end(expectedDigest)) {
      if (effect.kind === 'make-durable') continue;
      else if (effect.kind === 'finish') digest = effect.digest;
      else {
        // Every chunk matched its hash yet the whole does not: the chunks are from different versions of
        // the source. Keeping them would fail every resume the same way, so the partial goes.
        await this.discard();
        throw failure(effect);
      }
    }
    await this.#durable.settled();
    await this.#stored.flushWrites();
    try {
      await this.#stored.finish(target, {
        mode: receivedFileMode(options.mode),
        mtimeMs: options.mtimeMs ?? this.header.mtimeMs,
        overwrite: options.overwrite,
        identity: this.#known !== undefined && this.#machine.leafHashes() !== undefined,
      });
    } catch (err) {
      // Not placed (e.g. FILE_EXISTS): the partial stays, and the machine no longer receives.
      this.#machine.close();
      throw err;
    }
    this.#closed = true;
    this.#machine.finished();
    if (options.rememberLater === true) this.#rememberLater = true;
    else this.#remember();
    return digest!;
  }

  /** Records the placed file's leaf hashes left for later by `finish` (`rememberLater`); once, else nothing. */
  rememberPlaced(): void {
    if (!this.#rememberLater) return;
    this.#rememberLater = false;
    this.#remember();
  }

  /**
   * Records the placed file's leaf hashes (every one hashed from the bytes verified here) under its identity
   * after the rename, for a later delta against it (`KnownLeafHashes`). In the background: a cache, never on
   * the way to PUT_DONE or the client's success; a file whose identity the store could not vouch for (or
   * whose leaves are not all known: chunks held from an earlier session) is not recorded.
   */
  #remember(): void {
    const known = this.#known;
    const identity = this.#stored.placedIdentity;
    const leaves = this.#machine.leafHashes();
    if (known === undefined || identity === undefined || leaves === undefined) return;
    void known.store.record(known.place, identity, leaves);
  }

  /** Makes what is verified durable and closes the partial, keeping it for a later resume. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      const rest = this.#machine.close();
      if (rest) this.#durable.makeDurable(rest.entries);
      await this.#durable.settled();
    } finally {
      await this.#stored.close();
    }
  }

  /** Discards the partial entirely. */
  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    await this.#stored.abort();
  }
}

/** The error a machine's fail effect stands for. */
function failure(effect: FailEffect): FerryError {
  return new FerryError(effect.code, effect.detail === '' ? undefined : effect.detail);
}
