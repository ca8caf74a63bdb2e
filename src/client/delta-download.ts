import {
  ChunkHashes,
  DeltaLeafSources,
  DeltaMatcher,
  LEAF_BYTES,
  type DeltaScan,
  type KnownLeafHash,
  deltaBlockLength,
  noteLeafHash,
  type DeltaSignature,
} from '../protocol/index.js';
import { DIRECT_ALIGN_BYTES, type PartialTransfer, type SourceFile } from '../transfer/index.js';
import { PlacedLeaves, type PlacingPartial } from './placed-leaves.js';
import { placeLeaves } from './place-found-leaves.js';
import { ReadBuffers, alignedForDirect } from './read-buffers.js';
import { ScanHashesAhead } from './scan-hashes-ahead.js';

/** Old-file offsets scanned per read (the read holds one leaf more, for matches across its end). */
const SCAN_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * The most bytes one read of the scan holds: a window, the leaf past its end, the leaf a scan may start past
 * the window before it (a match across its end), and up to DIRECT_ALIGN_BYTES before that, where the read
 * starts so that the leaves it will likely place lie aligned for direct I/O in its buffer.
 */
const SCAN_READ_BYTES = SCAN_WINDOW_BYTES + 2 * LEAF_BYTES + DIRECT_ALIGN_BYTES;

/** What a delta download reads of its old file: a `SourceFile` (its identity checked before trusting a scan). */
export type OldFile = Pick<SourceFile, 'size' | 'readExactly' | 'assertUnchanged'>;

/** What a delta download writes the leaves it found into: the download's partial. */
export type LeafPartial = Pick<
  PartialTransfer<unknown>,
  'writeData' | 'completeChunk' | 'flushWrites' | 'verifiedBytes' | 'heldRanges'
> &
  PlacingPartial;

/** What the old file gave a delta download (PROTOCOL.md §5.17.3). */
export interface TakenLeaves {
  /** The leaves now verified in the partial, with their hashes. */
  readonly held: ChunkHashes;
  /** True when the old file is the server's file: every leaf in place, same size, same digest. */
  readonly identical: boolean;
}

/**
 * The signature of a delta download as it arrives (PROTOCOL.md §5.17.2: DELTA_BLOCKS in block order, then
 * GET_END), so the old file is scanned while the server still signs.
 */
export interface SignatureArrival {
  /** Resolves once at least `blocks` blocks arrived (all, at most), with the number arrived. */
  waitFor(blocks: number): Promise<number>;
  /** The file digest (GET_END), once the signature is whole. */
  digest(): Promise<Buffer>;
}

/**
 * Blocks of the signature a window's scan waits for beyond the window's own end: an old file's bytes found
 * up to 4 MiB earlier in the server's file (an insertion) are found on the first pass; bytes moved further
 * are found by the scan again, once the signature is whole, of what stayed unmatched.
 */
const LOOKAHEAD_BLOCKS = 64;

/**
 * Finds the server's leaves in the client's old file and copies them into the download's partial
 * (PROTOCOL.md §5.17.3): the rolling checksum over every byte offset of `old`, each candidate confirmed by
 * its leaf hash (`DeltaMatcher`, the delta upload's matcher with old and new swapped), read in windows of a
 * few MiB. A leaf found is written from the window it was found in, with the leaf hash the matcher computed
 * over those very bytes as its chunk hash, so it is a verified chunk of the partial (its chunks are leaves),
 * held exactly as a resumed download's chunk is. Into a partial that held nothing, the whole leaves found
 * are placed (`PlacedLeaves`): written in runs from the window they were found in, around the page cache
 * where aligned, but counted only once the file is known to differ (a leaf not in place, or the digest at
 * the end) and their write landed, and only while the old file is unchanged (else read again). An identical
 * file is recognised by its digest and left alone; its partial goes unsynced.
 *
 * With `arrival`, `signature` is still arriving (its arrays at full size, filled in block order): a window is
 * scanned once the blocks up to a little past its end arrived, while the server signs the rest (issue 16:
 * signing and scanning took turns, each about a read and a hash of the file). What a window scanned before
 * the signature was whole left unmatched is scanned again once it is, so the leaves found are those a scan
 * of the whole signature finds. `hashesAhead` takes the leaf hashes ahead of the scan (on the process's leaf
 * hash thread unless a test gives its own).
 */
export async function takeLeaves(
  old: OldFile,
  signed: { signature: DeltaSignature; digest?: Buffer },
  partial: LeafPartial,
  arrival?: SignatureArrival,
  hashesAhead: ScanHashesAhead = new ScanHashesAhead(),
  knownOld?: ChunkHashes,
): Promise<TakenLeaves> {
  try {
    return await takeLeavesOf(old, signed, partial, arrival, hashesAhead, knownOld);
  } finally {
    OLD_FILE_SCAN_COUNTERS.hashedLeaves += hashesAhead.hashedLeaves;
  }
}

/**
 * What delta downloads' scans of their old files did in this process, for tests and benches: leaves hashed
 * (ahead on the thread, or by the matcher) and leaves whose hash came from the client's store (a warm delta,
 * issue 16).
 */
export const OLD_FILE_SCAN_COUNTERS = { hashedLeaves: 0, knownLeaves: 0 };

async function takeLeavesOf(
  old: OldFile,
  signed: { signature: DeltaSignature; digest?: Buffer },
  partial: LeafPartial,
  arrival: SignatureArrival | undefined,
  hashesAhead: ScanHashesAhead,
  knownOld: ChunkHashes | undefined,
): Promise<TakenLeaves> {
  const { signature } = signed;
  const size = signature.oldSize;
  const total = signature.weak.length;
  const held = new ChunkHashes(size, LEAF_BYTES);
  const sources = new DeltaLeafSources(signature);
  if (total === 0) return { held, identical: old.size === 0 };
  const inPlace = new ChunkHashes(size, LEAF_BYTES);
  /** The leaves placed from elsewhere in the old file (after an insertion or a deletion), by the scan's hash. */
  const moved = new ChunkHashes(size, LEAF_BYTES);
  let deferring = old.size === size;
  // The whole leaves found are written as they are scanned, onto a partial holding nothing (so the old file
  // is read once), and counted only once the file is known to differ.
  const placed =
    partial.verifiedBytes === 0 && partial.heldRanges().length === 0
      ? new PlacedLeaves(partial, size)
      : undefined;
  const found: Array<{ block: number; offset: number; hash: Buffer }> = [];
  const matcher = new DeltaMatcher(
    signature,
    (block, offset, hash) => found.push({ block, offset, hash }),
    arrival ? 0 : total,
  );
  /**
   * The old file's leaf hashes from the client's store (issue 16, WARM deltas), for the version of it opened;
   * trusted for a piece only when the old file's identity, checked after that piece was read, is still the
   * one opened (any write moves the ctime), and dropped for good at the first that differs.
   */
  let known = knownOld?.size === old.size && knownOld.knownCount === knownOld.count ? knownOld : undefined;
  const unchangedNow = (): Promise<boolean> =>
    old.assertUnchanged().then(
      () => true,
      () => false,
    );
  /** The scan's hash of a leaf it placed: where it lies in place, or found elsewhere. */
  const scanHash = (index: number): Buffer | undefined => inPlace.get(index) ?? moved.get(index);
  /**
   * The leaves placed so far whose writes landed count now, once the file is known to differ, while the old
   * file is still the version opened (its identity checked after their reads: the bytes placed are the
   * bytes the scan hashed); the rest at the end.
   */
  const acceptLanded = async (): Promise<void> => {
    if (deferring || placed === undefined) return;
    for (const block of await placed.acceptLanded(unchangedNow, scanHash)) held.set(block, scanHash(block)!);
  };
  /** Old-file ranges left unmatched by a scan of part of the signature: scanned again once it is whole. */
  const again: Array<{ from: number; to: number }> = [];
  // No read passes the old file's end: a run of leaves placed later is inside it too.
  // A buffer is read into again only once its writes landed, the placing ones (queued piece by piece, so
  // settled first) and the partial's.
  const landed = async (): Promise<void> => {
    await placed?.settle();
    await partial.flushWrites();
  };
  const buffers = new ReadBuffers(landed, Math.min(old.size, SCAN_READ_BYTES));
  // Each window is read while the one before it is scanned: a read covers any start the scan may leave
  // (from `to` to a leaf past it) and a whole window after it. It starts where the leaves at the phase the
  // scans follow (the leaf boundaries, or those shifted by an insertion or a deletion) lie aligned for
  // direct I/O in its buffer (a slab's, page-aligned), so that runs of them are placed around the page cache.
  const readAhead = (to: number): Promise<Piece> => {
    const phase = hashesAhead.phase ?? 0;
    const at = Math.max(
      0,
      to - ((((to - phase) % DIRECT_ALIGN_BYTES) + DIRECT_ALIGN_BYTES) % DIRECT_ALIGN_BYTES),
    );
    const read = (async () => {
      const bytes = await buffers.take(Math.min(old.size, to + SCAN_WINDOW_BYTES + 2 * LEAF_BYTES) - at);
      await old.readExactly(bytes, 0, bytes.length, at);
      if (known !== undefined && !(await unchangedNow())) known = undefined;
      return { at, bytes, known };
    })();
    read.catch(() => undefined); // awaited below; a read left running when the scan fails is not unhandled
    return read;
  };
  /**
   * Of the leaves the last scan of `window` (old-file bytes from `from`) found, the first ones while every
   * leaf so far lies in place: noted, and those whole placed in one write. Returns how many it took. Apart
   * from `takeMoved` (the leaves after the first difference): V8 optimizes this before an edit is met, and a
   * path first taken then throws the optimized code away (issue 16).
   */
  const takeInPlace = (window: Buffer, from: number): number => {
    let taken = 0;
    const leaves: Buffer[] = [];
    for (; taken < found.length; taken++) {
      const { block, offset, hash } = found[taken]!;
      if (offset !== block * LEAF_BYTES || block !== inPlace.knownCount) break;
      inPlace.set(block, hash);
      const length = deltaBlockLength(block, size);
      // A short last leaf is not placed (no hint for it): it is read again if the file differs.
      if (placed !== undefined && length === LEAF_BYTES) {
        const leaf = window.subarray(offset - from, offset - from + length);
        buffers.written(leaf);
        leaves.push(leaf);
      }
    }
    // Leaves in place, one after another, placed in one write: around the page cache when aligned for it
    // (issue 16: 1 GiB of new page cache cost a delta's receiver 0.3-2 CPU s by the VM's memory state).
    if (leaves.length > 0) placed!.place(found[0]!.block, leaves, alignedForDirect(leaves[0]!));
    return taken;
  };
  /**
   * Writes the leaves the last scan of `window` found from `found[first]` on into the partial. The whole
   * leaves are placed as before the first difference, in runs of leaves that lie one after another in both
   * files (counted once landed, `acceptLanded`; issue 16: written one by one as verified chunks, they went
   * through the page cache, 0.3-2 CPU s per GiB); a short last leaf, and those a scan again found, are
   * written and verified at once.
   */
  const takeMoved = async (window: Buffer, from: number, rescan: boolean, first: number): Promise<void> => {
    deferring = false;
    let run: Buffer[] = [];
    let runFirst = 0;
    let runOffset = 0;
    const placeRun = (): void => {
      if (run.length > 0) placed!.place(runFirst, run, alignedForDirect(run[0]!));
      run = [];
    };
    for (let i = first; i < found.length; i++) {
      const { block, offset, hash } = found[i]!;
      // A leaf seen once is taken from there (placed, or read again at the end): a repeat of it found
      // elsewhere adds nothing.
      if (held.has(block) || inPlace.has(block) || moved.has(block)) continue;
      const length = deltaBlockLength(block, size);
      const leaf = window.subarray(offset - from, offset - from + length);
      if (!rescan && placed !== undefined && length === LEAF_BYTES) {
        (offset === block * LEAF_BYTES ? inPlace : moved).set(block, hash);
        buffers.written(leaf);
        // A run is contiguous in the window too: aligned for direct I/O as a whole if its first leaf is.
        if (block !== runFirst + run.length || offset !== runOffset + run.length * LEAF_BYTES) placeRun();
        if (run.length === 0) [runFirst, runOffset] = [block, offset];
        run.push(leaf);
        continue;
      }
      placeRun();
      const placing = placed?.overwrite(block);
      if (placing !== undefined) await placing;
      // The matcher hashed these very bytes, which stay as they are: the partial takes the hash, not hashes
      // again (a whole leaf only: a hint stands for LEAF_BYTES bytes).
      if (length === LEAF_BYTES) noteLeafHash(leaf.buffer, leaf.byteOffset, hash);
      buffers.written(leaf);
      await partial.writeData(block * LEAF_BYTES, leaf);
      partial.completeChunk(block, hash);
      held.set(block, hash);
      if (rescan) sources.add([{ newOffset: offset, length, oldOffset: block * LEAF_BYTES }]);
    }
    placeRun();
  };
  /** Writes the leaves the last scan of `window` (old-file bytes from `from`) found into the partial. */
  const takeFound = async (window: Buffer, from: number, rescan: boolean): Promise<void> => {
    const taken = !rescan && deferring ? takeInPlace(window, from) : 0;
    if (taken < found.length) await takeMoved(window, from, rescan, taken);
    found.length = 0;
  };
  /**
   * Buffers of the scans again: their own, since those may run between two windows of the first pass while
   * the next window is read into `buffers` (a take there would turn to the window being read). Allocated only
   * if there is something to scan again.
   */
  const againBuffers = new ReadBuffers(landed, Math.min(old.size, SCAN_WINDOW_BYTES + 2 * LEAF_BYTES));
  /** Scans every range in `again` with the whole signature (the matcher knows every block), emptying it. */
  const scanAgain = async (): Promise<void> => {
    for (let range = again.shift(); range !== undefined; range = again.shift()) {
      for (let from = range.from; from < range.to;) {
        const to = Math.min(range.to, from + SCAN_WINDOW_BYTES);
        const readEnd = Math.min(old.size, to - 1 + LEAF_BYTES);
        const window = await againBuffers.take(readEnd - from);
        await old.readExactly(window, 0, window.length, from);
        // The store's hashes for this window too, only while the identity after its read is the one opened.
        if (known !== undefined && !(await unchangedNow())) known = undefined;
        matcher.useKnownLeafHashes(known && storedLeafHashes(known, old.size, undefined));
        let scan: DeltaScan;
        try {
          scan = matcher.scan(window, from, from, to, readEnd === old.size);
        } finally {
          matcher.useKnownLeafHashes(undefined);
        }
        await takeFound(window, from, true);
        from = scan.next;
      }
    }
  };
  // The scan, then the leaves left; a failure leaves no placing write in flight behind it (the caller
  // closes the partial).
  const scanAndPlace = async (): Promise<TakenLeaves> => {
    let ahead = readAhead(0);
    // The leaves a window's scan will check are hashed on the leaf hash thread as soon as the window is read,
    // over its very buffer, at the phase the scans so far set (`ScanHashesAhead`): while this thread scans
    // the window before it, takes its leaves and waits for the signature (issue 16: started only once the
    // scan before it ended, the hash thread, the client's busiest, sat idle during every scan). Should that
    // scan move the phase (an edit), they are taken again at the new one.
    const startHashes = ({ at, bytes, known: stored }: Piece): Promise<KnownLeafHash | undefined> => {
      // A scan of this piece starts less than a leaf past `at` and checks blocks starting before its end.
      const ahead =
        stored !== undefined && hashesAhead.phase === 0
          ? Promise.resolve(undefined)
          : hashesAhead.start(bytes, at, Math.min(old.size, at + SCAN_WINDOW_BYTES + LEAF_BYTES));
      if (stored === undefined) return ahead;
      // Leaves in place (phase 0) from the store; those at another phase (after an edit) hashed ahead.
      return ahead.then((other) => storedLeafHashes(stored, old.size, other));
    };
    const hashesOf = (read: Promise<Piece>): Promise<EarlyHashes | undefined> =>
      read.then(
        (piece) => ({ phase: hashesAhead.phase, piece, hashes: startHashes(piece) }),
        () => undefined, // the read's failure is the scan's, below
      );
    /** The hashes of a piece at the phase followed now: those taken early if at the same phase. */
    const atPhase = (early: Promise<EarlyHashes | undefined>): Promise<KnownLeafHash | undefined> => {
      const phase = hashesAhead.phase;
      return early.then((e) =>
        e === undefined ? undefined : e.phase === phase ? e.hashes : startHashes(e.piece),
      );
    };
    let early = hashesOf(ahead);
    let hashes = atPhase(early);
    for (let from = 0; from < old.size;) {
      const to = Math.min(old.size, from + SCAN_WINDOW_BYTES);
      const readEnd = Math.min(old.size, to - 1 + LEAF_BYTES);
      if (matcher.knownBlocks < total)
        matcher.extend(
          await arrival!.waitFor(Math.min(total, Math.ceil(readEnd / LEAF_BYTES) + LOOKAHEAD_BLOCKS)),
        );
      const whole = matcher.knownBlocks === total;
      const piece = await ahead;
      if (to < old.size) {
        ahead = readAhead(to);
        early = hashesOf(ahead);
      }
      const window = piece.bytes.subarray(from - piece.at, readEnd - piece.at);
      // The hashes taken ahead were taken over `piece.bytes`, which `window` views: the bytes scanned.
      matcher.useKnownLeafHashes(await hashes);
      let scan: DeltaScan;
      try {
        scan = matcher.scan(window, from, from, to, readEnd === old.size);
      } finally {
        matcher.useKnownLeafHashes(undefined);
      }
      hashesAhead.follow(found.map((match) => match.offset));
      if (to < old.size) hashes = atPhase(early);
      sources.add(scan.ops);
      if (!whole)
        for (const op of scan.ops)
          if (op.oldOffset < 0) again.push({ from: op.newOffset, to: op.newOffset + op.length });
      await takeFound(window, from, false);
      // Every write from this piece's buffer was handed over (the placing ones started, the partial's
      // queued, and submitted by the flush): the buffer is read into again once those have landed.
      buffers.done(piece.bytes, Promise.all([placed?.startedLanded(), partial.flushWrites()]));
      await acceptLanded();
      from = scan.next;
      // The signature is whole before the scan's end (the scan lags the signing): what earlier windows left
      // unmatched is scanned again now, while this window's writes land and the next window is read, not
      // after the last window (issue 16: ~70 ms of a 1 GiB download's end, three rewritten MiB rolled again).
      if (matcher.knownBlocks === total) await scanAgain();
    }
    if (matcher.knownBlocks < total) matcher.extend(await arrival!.waitFor(total));
    await scanAgain();
    const digest = signed.digest ?? (await arrival!.digest());
    if (deferring && inPlace.knownCount === inPlace.count && inPlace.digest().equals(digest)) {
      // The caller discards the partial: the placing writes land first.
      await placed?.settle();
      return { held, identical: true };
    }
    // The leaves placed and not yet counted count now, with the scan's hashes, if the old file is still the
    // version scanned.
    for (const block of (await placed?.accept(unchangedNow, scanHash)) ?? [])
      held.set(block, scanHash(block)!);
    // The leaves left: those seen in place but not placed, and repeats of a leaf found once.
    sources.fillRepeats();
    await placeLeaves(old, sources, signature, partial, held, inPlace, buffers);
    return { held, identical: false };
  };
  try {
    return await scanAndPlace();
  } catch (err) {
    placed?.stop();
    await placed?.settle();
    throw err;
  } finally {
    OLD_FILE_SCAN_COUNTERS.hashedLeaves += matcher.hashedBlocks;
    // The slabs go back to the next scan only once no write reads from them.
    await landed().catch(() => undefined);
    buffers.release();
    againBuffers.release();
  }
}

/**
 * The matcher's leaf hashes of an old file of `size` bytes from its store entry `stored` (a whole leaf at a
 * leaf boundary, phase 0), and from `other` elsewhere (leaves hashed ahead at another phase, if any). The
 * caller vouches that the bytes scanned are that version's (the identity checked after their read).
 */
function storedLeafHashes(
  stored: ChunkHashes,
  size: number,
  other: KnownLeafHash | undefined,
): KnownLeafHash {
  return (offset) => {
    if (offset % LEAF_BYTES !== 0 || offset + LEAF_BYTES > size) return other?.(offset);
    OLD_FILE_SCAN_COUNTERS.knownLeaves++;
    // A copy for each use: the partial and the chunk hasher keep the hashes they are given.
    return Buffer.from(stored.get(offset / LEAF_BYTES)!);
  };
}

/** A piece of the old file read ahead of its scan: file bytes from `at`. */
interface Piece {
  readonly at: number;
  readonly bytes: Buffer;
  /** The old file's known leaf hashes, when its identity after this read was still the one opened. */
  readonly known?: ChunkHashes | undefined;
}

/** The leaf hashes of a piece, started as soon as it was read, at the phase followed then. */
interface EarlyHashes {
  readonly phase: number | undefined;
  readonly piece: Piece;
  readonly hashes: Promise<KnownLeafHash | undefined>;
}
