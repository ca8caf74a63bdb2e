import { FerryError } from '../errors/index.js';
import {
  ChunkHashes,
  LEAF_BYTES,
  MAX_DELTA_BLOCKS,
  PERMISSION_DOWNLOAD,
  deltaBlockBytesFor,
  forgetLeafHashes,
  deltaBlockCount,
  leafHash,
  noteLeafHash,
  type DeltaBlocksMessage,
  type PutCopyMessage,
  type PutOfferMessage,
} from '../protocol/index.js';
import {
  LEAF_HASH_THREAD,
  PLACED_SYNC_BYTES,
  SourceFile,
  signBlocks,
  signLeaves,
  type KnownLeafHashes,
  type KnownLeaves,
  type PartialTransfer,
  type SignedPieceHook,
  type RootPath,
} from '../transfer/index.js';
import { LeafPlacing } from '../machines/index.js';
import { deltaMemoryBytes } from './delta-memory.js';
import type { SessionIo } from './session-io.js';

/** The most bytes of the old file one read of a PUT_COPY holds (PROTOCOL.md §5.15.3). */
const COPY_PIECE_BYTES = 1024 * 1024;

/**
 * Read buffers of the copies, used in turn (4 MiB per delta upload): writes from them land before one is
 * read into again, so this many pieces are in flight at most. A copy queues a piece's write only after the
 * next piece's buffer is taken (that piece is read meanwhile), so when buffer k is taken the writes queued
 * are those of pieces up to k − 2: a flush at every other turn (`#nextPiece`) covers the write of piece
 * k − 4, the one whose buffer is reused.
 */
const COPY_PIECES = 4;

/** Placed leaves (`DeltaOldFile.#placing`) taken by the rules at once: 64 (4 MiB of the file). */
const PLACED_RUN_LEAVES = 64;

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
   * old file's size onto an empty partial, `#placingHook`), by the per-leaf rule of `LeafPlacing`: arrived
   * data (PUT_DATA, a copy from elsewhere, `arrive`) wins and waits for a placing write in flight under it; a
   * PUT_COPY in place takes placed leaves, each once, and writes nothing (`copyInto`). The session's messages
   * are served while it signs (issue 16: the same-size upload waited for its whole signing first). Stopped
   * when the old file's identity differs after the signing. Undefined when not placing.
   */
  #placing: LeafPlacing | undefined;
  /** The placing writes in flight (`#placingHook`); what an arrival over one of them waits for. */
  readonly #placingWrites = new Set<Promise<void>>();
  /** The copies' read buffers (`#nextPiece`), at most COPY_PIECES, and whose turn is next once all exist. */
  #pieces: Buffer[] | undefined;
  #pieceTurn = 0;
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

  private constructor(old: SourceFile, release: () => void, known: OldFileInStore | undefined) {
    this.#old = old;
    this.#known = known;
    this.#stopped = new Promise<never>((_, reject) => (this.#rejectStopped = reject));
    this.#stopped.catch(() => undefined);
    this.#release = release;
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
   * and every other write into the partial goes through `arrive` (`LeafPlacing`'s rule).
   */
  startSignature<T>(
    io: SessionIo,
    ref: number,
    partial: PartialTransfer<T>,
    newSize: number,
  ): { readonly done: Promise<void>; readonly placing: boolean } {
    if (this.#signing !== undefined) throw new FerryError('INTERNAL', 'a delta signature sent twice');
    const placing = this.#placingHook(partial, newSize);
    const signing = this.#sign(io, ref, placing);
    // Settled, never rejecting: `close` waits for it before the file is closed under its reads.
    this.#signing = signing.catch(() => undefined);
    const done = signing.catch((err: unknown) => {
      if (this.#stop === undefined) throw err;
    });
    return { done, placing: placing !== undefined };
  }

  async #sign(io: SessionIo, ref: number, placing: SignedPieceHook | undefined): Promise<void> {
    const old = this.#old;
    const blockBytes = deltaBlockBytesFor(old.size);
    // A wait for the hashing budget or for a record's send (a client not reading) ends at once when the
    // signing is stopped: `stopSigning` must not wait for the client (a send left parked fails when the
    // channel closes).
    const unlessStopped = <R>(work: Promise<R>): Promise<R> => Promise.race([work, this.#stopped]);
    const send = (record: DeltaBlocksMessage): Promise<void> => unlessStopped(io.send(record));
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
      let unchanged: boolean;
      try {
        await signLeaves(old, ref, hashes, send, placing, () => this.#stop, {
          known: known?.hashes,
          knownWeak: known?.weak,
          weakOut,
        });
      } finally {
        // Every placing write has landed (`signLeaves` waits for its hook): nothing is placed from now on.
        // Known hashes too are trusted only for the version opened, after the last byte read and placed.
        unchanged = await this.#unchanged();
        if (!unchanged) {
          this.#leafHashes = undefined;
          this.#placing?.stop();
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
   * The signing's hook that writes each piece of the old file into `partial` where it lies, so a PUT_COPY in
   * place later writes nothing and the old file is read once (issue 16: a second read of it, then a write,
   * was most of a delta upload's copying). Only for a new file of the old one's size, the sign of data
   * changed in place (after an insertion the old bytes land elsewhere and these writes would be wasted),
   * onto a partial holding nothing verified (those bytes stay as they are). Undefined otherwise. A failed
   * write just leaves its leaves unplaced: their copies read the old file, as before.
   */
  #placingHook<T>(partial: PartialTransfer<T>, newSize: number): SignedPieceHook | undefined {
    const old = this.#old;
    if (deltaBlockBytesFor(old.size) !== LEAF_BYTES) return undefined; // `signBlocks` hands out no pieces
    if (newSize !== old.size || partial.verifiedBytes > 0 || partial.heldRanges().length > 0)
      return undefined;
    const placing = new LeafPlacing(old.size);
    this.#placing = placing;
    let unsynced = 0;
    let syncing: Promise<void> | undefined;
    const known = this.#known?.leaves !== undefined;
    return async (offset, leaves) => {
      // The placing rule counts a placed leaf with the signing's hash of it (`#takePlaced`): hashed from this
      // very buffer when signed cold, but known from the store when warm, so the bytes read must be that
      // version's: the identity is checked after this piece's read (any write moves the ctime). If it moved,
      // nothing is placed from now on, and no known hash is taken for a copy.
      if (known && !(await this.#unchanged())) {
        this.#leafHashes = undefined;
        placing.stop();
        return;
      }
      // Whole leaves only: a short last leaf has no hint (`noteLeafHash` takes whole leaves) and is copied.
      const whole = leaves.filter((leaf) => leaf.length === LEAF_BYTES);
      const first = offset / LEAF_BYTES;
      // Only the leaves no data arrived at: arrived data wins (`LeafPlacing`).
      const writes = placing.place(first, whole.length).map(async (run) => {
        const at = run.first - first;
        let ok = true;
        try {
          // Around the page cache where the store can: the signing's pieces are aligned for it, and these
          // bytes are not read back (the chunk takes the signing's hashes).
          await partial.placeUnverified(run.first * LEAF_BYTES, whole.slice(at, at + run.count), {
            unbuffered: true,
          });
        } catch {
          ok = false; // those leaves are copied from the old file, as when not placing
        }
        placing.landed(run, ok);
        if (ok) unsynced += run.count * LEAF_BYTES;
      });
      if (writes.length === 0) return;
      const landed = Promise.all(writes).then(() => undefined);
      this.#placingWrites.add(landed);
      await landed;
      this.#placingWrites.delete(landed);
      if (unsynced >= PLACED_SYNC_BYTES && syncing === undefined) {
        unsynced = 0;
        // One at a time; a failure is the partial's to report (its next write, finish or close).
        syncing = partial.syncWritten().then(
          () => (syncing = undefined),
          () => undefined,
        );
      }
    };
  }

  /**
   * Arrived data (PUT_DATA, a copy's bytes) is about to be written at `[offset, offset + length)` of the
   * partial: the leaves it touches are never placed or taken from now on, and it resolves once no placing
   * write is in flight under them, so the arrived bytes are the ones that stay (`LeafPlacing`). Every write
   * into a delta upload's partial other than placing comes through here.
   */
  async arrive(offset: number, length: number): Promise<void> {
    const placing = this.#placing;
    if (placing === undefined || length <= 0 || offset + length > placing.leafCount * LEAF_BYTES) return;
    if (placing.arrive(offset, length)) await this.#placingLanded();
  }

  /**
   * Resolves once every placing write in flight now has landed (or failed); not those started later, which
   * skip the leaves that arrived (a wait for every write could last until the signing ends).
   */
  async #placingLanded(): Promise<void> {
    await Promise.all([...this.#placingWrites]);
  }

  /**
   * PROTOCOL.md §5.15.3: a PUT_COPY's bytes come from the old file opened at the offer and are written into
   * the chunk exactly as PUT_DATA's (same offset rules, same hash check at PUT_CHUNK), in pieces of at most
   * 1 MiB so a copy of a whole 64 MiB chunk does not hold it all in memory. `stream` names the writer, as
   * PUT_DATA's does (PROTOCOL.md §5.13.3).
   */
  async copyInto<T>(partial: PartialTransfer<T>, message: PutCopyMessage, stream: unknown): Promise<void> {
    const old = this.#old;
    if (message.oldOffset + message.length > old.size)
      throw new FerryError('MESSAGE_MALFORMED', 'put_copy past the old file');
    // Each piece is read while the one before it is hashed and queued for writing (issue 16: a shifted
    // copy read, hashed and wrote one piece after another, the read's wait on the pool idling this thread).
    let last: { at: number; piece: Buffer; read: Promise<void> } | undefined;
    // Old leaves landing off the new file's leaf boundaries (an insertion or deletion before them).
    const shifted = (message.offset - message.oldOffset) % LEAF_BYTES !== 0;
    const land = async ({ at, piece, read }: { at: number; piece: Buffer; read: Promise<void> }) => {
      await read;
      if (shifted) await hashShiftedLeaves(piece, message.offset + at);
      else await this.#noteSignedLeaves(piece, message.offset + at, message.oldOffset + at);
      await this.arrive(message.offset + at, piece.length);
      await partial.writeData(message.offset + at, piece, stream);
    };
    for (let done = 0; done < message.length;) {
      const placed = await this.#takePlaced(
        message.offset + done,
        message.oldOffset + done,
        message.length - done,
      );
      if (placed.length > 0) {
        if (last) await land(last);
        last = undefined;
        partial.acceptPlacedLeaves(message.offset + done, placed, stream);
        done += placed.length * LEAF_BYTES;
        continue;
      }
      const n = Math.min(COPY_PIECE_BYTES, message.length - done);
      const piece = (await this.#nextPiece(partial)).subarray(0, n);
      const read = old.readExactly(piece, 0, n, message.oldOffset + done);
      read.catch(() => undefined); // awaited by `land`; a failure before then must not go unhandled
      if (last) await land(last);
      last = { at: done, piece, read };
      done += n;
    }
    if (last) await land(last);
  }

  /**
   * The next of the copies' read buffers, made on first need and used in turn (a fresh 1 MiB per piece was
   * the server's main garbage on a shifted copy). Before one is used again, every write queued from it has
   * landed (`flushWrites` at every other turn, see COPY_PIECES), and no leaf hint noted in it outlives its
   * bytes (`forgetLeafHashes`).
   */
  async #nextPiece<T>(partial: PartialTransfer<T>): Promise<Buffer> {
    const pieces = (this.#pieces ??= []);
    if (pieces.length < COPY_PIECES) {
      // Shared memory, so the leaf hash thread reads it in place (`hashShiftedLeaves`).
      const piece = Buffer.from(new SharedArrayBuffer(COPY_PIECE_BYTES));
      pieces.push(piece);
      return piece;
    }
    const turn = this.#pieceTurn++ % COPY_PIECES;
    if (turn % 2 === 0) await partial.flushWrites();
    const piece = pieces[turn]!;
    forgetLeafHashes(piece.buffer);
    return piece;
  }

  /**
   * The signing's hashes of the placed leaves (`#placing`) that a copy of `length` bytes from `oldOffset` to
   * `offset` covers whole from its start, at most 64 (4 MiB), now taken (`LeafPlacing.take`: each once): none
   * unless the copy is in place and on a leaf boundary. A placing write in flight there lands first. Each
   * hash was taken over the very buffer the leaf was written from (`signLeaves` reuses it only after both),
   * so it is the hash of the bytes placed whatever the old file does later; placing stops when the old
   * file's identity moved during the signing, and each chunk is still checked at PUT_CHUNK.
   */
  async #takePlaced(offset: number, oldOffset: number, length: number): Promise<Buffer[]> {
    const placing = this.#placing;
    const run: Buffer[] = [];
    if (!placing || offset !== oldOffset || offset % LEAF_BYTES !== 0 || length < LEAF_BYTES) return run;
    const first = offset / LEAF_BYTES;
    if (placing.inFlight(first, 1)) await this.#placingLanded();
    const hashes = this.#leafHashes;
    if (!hashes || placing.stateOf(first) !== 'placed') return run;
    const most = Math.min(PLACED_RUN_LEAVES, Math.floor(length / LEAF_BYTES));
    let known = 0;
    while (known < most && hashes.get(first + known) !== undefined) known++;
    if (known === 0) return run;
    const taken = placing.take(first, known);
    for (let leaf = first; leaf < first + taken; leaf++) run.push(hashes.get(leaf)!);
    return run;
  }

  /**
   * Tells the partial's chunk hasher (leaf hints, `noteLeafHash`) the hash of every whole leaf `piece` holds
   * that is a whole leaf of the old file and lands on a leaf of the new one (both offsets on a leaf boundary),
   * taken from the signing when the file is still the version signed, checked after `piece` was read. The
   * chunk is still checked against the client's chunk hash at PUT_CHUNK; only the SHA-256 of bytes already
   * hashed, unchanged since, is spared. Any doubt hashes the bytes as they are written, as before.
   */
  async #noteSignedLeaves(piece: Buffer, offset: number, oldOffset: number): Promise<void> {
    const hashes = this.#leafHashes;
    if (!hashes || offset % LEAF_BYTES !== 0 || oldOffset % LEAF_BYTES !== 0 || piece.length < LEAF_BYTES)
      return;
    if (!(await this.#unchanged())) {
      this.#leafHashes = undefined;
      return;
    }
    for (let at = 0; at + LEAF_BYTES <= piece.length; at += LEAF_BYTES) {
      const hash = hashes.get((oldOffset + at) / LEAF_BYTES);
      // A copy: the hasher owns what it is given, and the table stays as signed.
      if (hash !== undefined) noteLeafHash(piece.buffer, piece.byteOffset + at, Buffer.from(hash));
    }
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

/**
 * Hashes the whole leaves of the new file that `piece` holds (at new-file `offset`, read from the old file
 * off its leaf boundaries), half on the leaf hash thread and half here at the same time, and notes each hash
 * as a leaf hint of its bytes, which the partial's chunk hasher takes instead of hashing them again (issue
 * 16: a shifted copy's SHA-256 ran on this thread alone, the other core idle while the client waits). The
 * hashes are of the very bytes then written: `piece` is not read into again before its write landed and its
 * hints were forgotten (`#nextPiece`). Should the thread fail, its half is hashed by the chunk hasher, here.
 */
async function hashShiftedLeaves(piece: Buffer, offset: number): Promise<void> {
  const starts: number[] = [];
  for (
    let at = (LEAF_BYTES - (offset % LEAF_BYTES)) % LEAF_BYTES;
    at + LEAF_BYTES <= piece.length;
    at += LEAF_BYTES
  )
    starts.push(at);
  const shared = piece.buffer;
  if (starts.length < 2 || !(shared instanceof SharedArrayBuffer)) return;
  const half = starts.length >> 1;
  const theirs = starts.slice(half);
  const hashing = LEAF_HASH_THREAD.hashLeaves(
    shared,
    theirs.map((at) => piece.byteOffset + at),
    LEAF_BYTES,
  ).catch(() => undefined);
  for (const at of starts.slice(0, half))
    noteLeafHash(shared, piece.byteOffset + at, leafHash(piece.subarray(at, at + LEAF_BYTES)));
  const hashes = await hashing;
  if (hashes === undefined) return;
  theirs.forEach((at, i) =>
    noteLeafHash(shared, piece.byteOffset + at, Buffer.from(hashes.subarray(i * 32, (i + 1) * 32))),
  );
}
