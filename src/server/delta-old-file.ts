import { FerryError } from '../errors/index.js';
import {
  ChunkHashes,
  LEAF_BYTES,
  MAX_DELTA_BLOCKS,
  PERMISSION_DOWNLOAD,
  deltaBlockBytesFor,
  deltaBlockCount,
  type DeltaBlocksMessage,
  type PutCopyMessage,
  type PutOfferMessage,
} from '../protocol/index.js';
import {
  SourceFile,
  signBlocks,
  signLeaves,
  type KnownLeafHashes,
  type KnownLeaves,
  type PartialTransfer,
  type SignedPieceHook,
  type RootPath,
} from '../transfer/index.js';
import { copyOldBytes, type CopySource } from './copy-old-bytes.js';
import { CopyPieces } from './copy-pieces.js';
import { deltaMemoryBytes } from './delta-memory.js';
import { noteSignedLeaves } from './note-signed-leaves.js';
import { OldLeafPlacer } from './old-leaf-placer.js';
import type { SessionIo } from './session-io.js';

/** Where the old file's leaf hashes are kept (`KnownLeafHashes`), and what was known of it when opened. */
interface OldFileInStore {
  readonly store: KnownLeafHashes;
  readonly place: string;
  readonly leaves: KnownLeaves | undefined;
}

/**
 * The server's side of a delta upload (PROTOCOL.md §5.15): the old file, open from the offer until the
 * transfer ends; it sends its signature and serves PUT_COPY from it.
 */
export class DeltaOldFile {
  readonly #old: SourceFile;
  /**
   * The old file's leaf hashes from its signing (blocks of one leaf), filled while it signs and kept while
   * the open file's identity (device, inode, size, mtime and ctime in ns) is the one it had when opened,
   * checked after the signing and after every read of a PUT_COPY: bound to those very bytes, they spare
   * hashing a copied leaf again. Undefined for smaller blocks, and dropped for good at the first identity
   * that differs.
   */
  #leafHashes: ChunkHashes | undefined;
  /**
   * The old file's leaves written into the partial at their own offset while they are signed (an offer of the
   * old file's size onto an empty partial, `OldLeafPlacer`): a PUT_COPY in place takes placed leaves and
   * writes nothing (`copyInto`). The session's messages are served while it signs (issue 16: the same-size
   * upload waited for its whole signing first). Stopped when the old file's identity differs after the
   * signing. Undefined when not placing.
   */
  #placer: OldLeafPlacer | undefined;
  /** The signing once started (`startSignature`), settled and never rejecting; `close` waits for it. */
  #signing: Promise<void> | undefined;
  /** Set by `stopSigning`: the signing stops before its next read, with this error (`done` swallows it). */
  #stop: Error | undefined;
  /** Rejects with `#stop` once it is set: what the signing's waits race (`#sign`). */
  readonly #stopped: Promise<never>;
  #rejectStopped: (stop: Error) => void = () => undefined;
  /** Gives back this upload's share of the server's delta memory (`DeltaMemory`). */
  readonly #release: () => void;
  /**
   * What the server's store of leaf hashes (`KnownLeafHashes`) knew of the old file, for the identity it was
   * opened with: the signing then hashes nothing (issue 16, WARM deltas), and the identity is checked after
   * its last read as for hashes it took itself. Undefined: signed cold, and recorded for the next delta.
   */
  readonly #known: OldFileInStore | undefined;
  /** The signing's record into the store, if any: `close` waits for it. */
  #recording: Promise<void> = Promise.resolve();
  /** What `copyOldBytes` reads from: the old file, its pieces, and this file's placing and hashes. */
  readonly #copySource: CopySource;

  private constructor(old: SourceFile, release: () => void, known: OldFileInStore | undefined) {
    this.#old = old;
    this.#known = known;
    this.#stopped = new Promise<never>((_, reject) => (this.#rejectStopped = reject));
    this.#stopped.catch(() => undefined);
    this.#release = release;
    this.#copySource = {
      old,
      pieces: new CopyPieces(old.size),
      takePlaced: async (offset, oldOffset, length) =>
        (await this.#placer?.take(offset, oldOffset, length, () => this.#leafHashes)) ?? [],
      noteSigned: (piece, offset, oldOffset) => this.#noteSignedLeaves(piece, offset, oldOffset),
      arrive: (offset, length) => this.arrive(offset, length),
    };
  }

  /**
   * PROTOCOL.md §5.15.1: the old file of a delta upload, opened by the root rules (no link followed), or
   * undefined when the upload takes the plain path: no DELTA asked, a client that may not download the path
   * (the signature describes the content, as EXISTING does), not a regular file, under one block or over
   * MAX_DELTA_BLOCKS (of the block size its size picks, §5.15.2).
   */
  static async open(
    io: SessionIo,
    offer: PutOfferMessage,
    target: RootPath,
  ): Promise<DeltaOldFile | undefined> {
    if (!offer.delta || !io.may(PERMISSION_DOWNLOAD)) return undefined;
    let old: SourceFile;
    try {
      old = await SourceFile.open(target.path, { noFollow: true, rooted: true });
    } catch {
      return undefined; // a directory, a link or gone: the plain path answers as it always has
    }
    const blockBytes = deltaBlockBytesFor(old.size);
    if (old.size >= blockBytes && deltaBlockCount(old.size, blockBytes) <= MAX_DELTA_BLOCKS) {
      // Waits while the clients' deltas hold their share of memory (docs/SECURITY.md "Delta memory"), until
      // the session ends: a waiter of a closed session would keep the old file open for nothing.
      let release: () => void;
      try {
        release = await io.ctx.deltaMemory.reserve(
          io.clientKey.toString('hex'),
          deltaMemoryBytes(old.size),
          io.stopped,
        );
      } catch (err) {
        await old.close();
        throw err;
      }
      // The signing's seam to the store: its hashes only for the version of the file opened (fstat of this
      // very descriptor), leaves only (a signature in smaller blocks is not made of leaf hashes).
      const store = io.ctx.knownLeafHashes;
      const known =
        store !== undefined && blockBytes === LEAF_BYTES
          ? { store, place: target.path, leaves: await store.find(target.path, old.identity) }
          : undefined;
      return new DeltaOldFile(old, release, known);
    }
    await old.close();
    return undefined;
  }

  /**
   * PROTOCOL.md §5.15.2: starts sending the old file's signature in DELTA_BLOCKS records, in the block size
   * its size picks. Leaf-sized blocks go through the download's signing (`signLeaves`, §5.17.2: the same
   * records): read in large pieces, one leaf hash per block, hashed on the leaf hash thread. Smaller blocks
   * (old files under 16 MiB) go through `signBlocks`, as a download's do. Either way at most one record of
   * 2048 blocks is in memory. Hashing on request is paid for like an EXISTING answer (docs/SECURITY.md
   * "Hashing on request").
   *
   * `done` settles when the signing is over: it rejects with what failed it (a read, a send), and resolves
   * when `stopSigning` (or `close`) stopped it. The signing runs in the background while the session's
   * messages are handled: PUT_COPY of blocks already sent, which a client may send before the last record
   * (§5.15.2), is served while the rest is signed (issue 16: an insertion's copy waited for the whole
   * signing, then ran, one core idle each time). When `placing` (the new file has the old one's size and the
   * partial holds nothing verified), the signing also writes each old leaf where it lies (`#placingHook`),
   * and every other write into the partial goes through `arrive` (`LeafPlacing`'s rule). `signed` hears the
   * old file's bytes of each record once it is sent: the upload's pace while its data waits on the signing
   * (`StorageLimits.signed`).
   */
  startSignature<T>(
    io: SessionIo,
    ref: number,
    partial: PartialTransfer<T>,
    newSize: number,
    signed: (bytes: number) => void = () => undefined,
  ): { readonly done: Promise<void>; readonly placing: boolean } {
    if (this.#signing !== undefined) throw new FerryError('INTERNAL', 'a delta signature sent twice');
    const placing = this.#placingHook(partial, newSize);
    const signing = this.#sign(io, ref, placing, partial, signed);
    // Settled, never rejecting: `close` waits for it before the file is closed under its reads.
    this.#signing = signing.catch(() => undefined);
    const done = signing.catch((err: unknown) => {
      if (this.#stop === undefined) throw err;
    });
    return { done, placing: placing !== undefined };
  }

  async #sign<T>(
    io: SessionIo,
    ref: number,
    placing: SignedPieceHook | undefined,
    partial: PartialTransfer<T>,
    signed: (bytes: number) => void,
  ): Promise<void> {
    const old = this.#old;
    const blockBytes = deltaBlockBytesFor(old.size);
    // A wait for the hashing budget or for a record's send (a client not reading) ends at once when the
    // signing is stopped: `stopSigning` must not wait for the client (a send left parked fails when the
    // channel closes).
    const unlessStopped = <R>(work: Promise<R>): Promise<R> => Promise.race([work, this.#stopped]);
    // Each record sent (the client reading) is the signing's pace (`StorageLimits.signed`).
    const send = async (record: DeltaBlocksMessage): Promise<void> => {
      await unlessStopped(io.send(record));
      signed(record.weak.length * blockBytes);
    };
    const known = this.#known?.leaves;
    // Reading the old file on request is paid for, as hashing is (docs/SECURITY.md "Hashing on request"): a
    // signing from known hashes hashes nothing but still reads every leaf it places or takes weak checksums
    // of, for an offer a client may cancel and make again. Only a signing that reads nothing is free.
    const readsNothing = known?.weak !== undefined && placing === undefined;
    if (!readsNothing) await unlessStopped(io.ctx.hashCache.spend(io.clientKey, old.size, io.stopped));
    if (blockBytes === LEAF_BYTES) {
      // The leaf hashes are kept for the copies (`copyInto`) when the file did not change while it was read:
      // any write moves its ctime, which no one can set back, so an equal identity means the bytes signed.
      // Filled as it signs: a copy in place takes a placed leaf with its hash before the signing is over.
      const hashes = new ChunkHashes(old.size, LEAF_BYTES);
      this.#leafHashes = hashes;
      // Weak checksums taken for the store when it lacks them (a file recorded at its upload's finish).
      const weakOut = known?.weak === undefined ? new Uint32Array(hashes.count) : undefined;
      // Signed cold, the leaf hash threads that read the pieces write them where they lie; the hook places
      // only what they could not (`OldLeafPlacer.writeThrough`).
      const through =
        placing !== undefined && known === undefined ? await this.#placer?.writeThrough(partial) : undefined;
      let unchanged: boolean;
      try {
        await signLeaves(old, ref, hashes, send, placing, () => this.#stop, {
          known: known?.hashes,
          knownWeak: known?.weak,
          weakOut,
          writeThrough: through?.through,
        });
      } finally {
        // No write through is in flight once the signing is over, failed or not (`signLeaves` waits).
        through?.done();
        // Every placing write has landed (`signLeaves` waits for its hook): nothing is placed from now on.
        // Known hashes too are trusted only for the version opened, after the last byte read and placed.
        unchanged = await this.#unchanged();
        if (!unchanged) {
          this.#leafHashes = undefined;
          this.#placer?.stop();
        }
      }
      // A whole signing of an unchanged file: what it took is known for the next delta against it.
      if (unchanged && weakOut !== undefined && this.#known !== undefined) {
        const { store, place } = this.#known;
        this.#recording = store.record(place, old.identity, hashes, weakOut);
      }
      return;
    }
    await signBlocks(old, ref, blockBytes, send);
  }

  /**
   * The signing's hook that places each piece of the old file in `partial` where it lies (`OldLeafPlacer`),
   * or undefined when not placing. The placing rule counts a placed leaf with the signing's hash of it
   * (`OldLeafPlacer.take`): hashed from this very buffer when signed cold, but known from the store when
   * warm, so the bytes read must be that version's: the identity is then checked after each piece's read
   * (any write moves the ctime). If it moved, nothing is placed from then on, and no known hash is taken for
   * a copy.
   */
  #placingHook<T>(partial: PartialTransfer<T>, newSize: number): SignedPieceHook | undefined {
    const placer = OldLeafPlacer.for(partial, this.#old.size, newSize);
    if (placer === undefined) return undefined;
    this.#placer = placer;
    if (this.#known?.leaves === undefined) return placer.hook(partial);
    return placer.hook(partial, async () => {
      if (await this.#unchanged()) return true;
      this.#leafHashes = undefined;
      return false;
    });
  }

  /**
   * Arrived data (PUT_DATA, a copy's bytes) is about to be written at `[offset, offset + length)` of the
   * partial: the leaves it touches are never placed or taken from now on, and it resolves once no placing
   * write is in flight under them, so the arrived bytes are the ones that stay (`LeafPlacing`). Every write
   * into a delta upload's partial other than placing comes through here.
   */
  async arrive(offset: number, length: number): Promise<void> {
    await this.#placer?.arrive(offset, length);
  }

  /** PROTOCOL.md §5.15.3: writes a PUT_COPY's bytes into `partial` (`copyOldBytes`). */
  async copyInto<T>(partial: PartialTransfer<T>, message: PutCopyMessage, stream: unknown): Promise<void> {
    await copyOldBytes(this.#copySource, partial, message, stream);
  }

  /**
   * Notes the signing's hash of each whole old leaf `piece` holds that lands on a leaf of the new file
   * (`noteSignedLeaves`), if the old file is still the version signed after `piece` was read (else its
   * hashes are dropped for good). Any doubt hashes the bytes as they are written, as before.
   */
  async #noteSignedLeaves(piece: Buffer, offset: number, oldOffset: number): Promise<void> {
    const hashes = this.#leafHashes;
    if (!hashes || offset % LEAF_BYTES !== 0 || oldOffset % LEAF_BYTES !== 0 || piece.length < LEAF_BYTES)
      return;
    if (!(await this.#unchanged())) {
      this.#leafHashes = undefined;
      return;
    }
    noteSignedLeaves(piece, offset, oldOffset, hashes);
  }

  /** Whether the open old file is still the version opened (its identity, `SourceFile.assertUnchanged`). */
  async #unchanged(): Promise<boolean> {
    try {
      await this.#old.assertUnchanged();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stops the signing, waits for it to end (its reads use the open file: a descriptor closed under them could
   * be reused by another open), then closes the old file; never throws (the transfer is ending either way).
   * Idempotent.
   */
  async close(): Promise<void> {
    await this.stopSigning();
    await this.#recording;
    await this.#old.close().catch(() => undefined);
    this.#release();
  }

  /**
   * Stops the signing before its next read and waits until it is over (`done` then resolves, unless it
   * failed first). At PUT_END: a client that followed §5.15.2 has every record by then, so this only waits
   * for the signing's last steps; one that ended early gets no record after its PUT_DONE. Idempotent.
   */
  async stopSigning(): Promise<void> {
    this.#stop ??= new FerryError('ABORTED', 'the delta upload ended while its old file was signed');
    this.#rejectStopped(this.#stop);
    await this.#signing;
  }
}
