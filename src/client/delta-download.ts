import {
  ChunkHashes,
  DeltaLeafSources,
  DeltaMatcher,
  LEAF_BYTES,
  type DeltaSignature,
} from '../protocol/index.js';
import { LeafHashesAhead, type PartialTransfer, type SourceFile } from '../transfer/index.js';
import { PlacedLeaves, type PlacingPartial } from './placed-leaves.js';
import { FoundLeaves } from './found-leaves.js';
import { placeLeaves } from './place-found-leaves.js';
import { ReadBuffers } from './read-buffers.js';
import { OldLeafTables } from './old-leaf-tables.js';
import { ScanHashesAhead } from './scan-hashes-ahead.js';
import { WriteThroughGate } from './write-through-gate.js';
import { WrittenThroughLeaves } from './written-through-leaves.js';
import { OLD_FILE_SCAN_COUNTERS } from './old-file-scan-counters.js';
import { ScanAgain } from './scan-again.js';
import { scanWindow } from './scan-window.js';
import { SCAN_READ_BYTES, SCAN_WINDOW_BYTES, WindowReadAhead, type Piece } from './window-read-ahead.js';

export { OLD_FILE_SCAN_COUNTERS } from './old-file-scan-counters.js';

/**
 * Old-file bytes the leaf hash thread wrote through that the scan takes at once, after one identity check of
 * the old file (taken after all their writes landed, so it vouches for each of them): issue 16, one check per
 * 4 MiB window was 256 fstats per GiB, ~65 ms of a cold 1 GiB download's main thread with the BigIntStats.
 */
const WRITTEN_THROUGH_BATCH_BYTES = 16 * 1024 * 1024;

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
 *
 * `knownOld`: the old file's leaf hashes, from the client's store (a WARM delta), or being taken in place
 * on the leaf hash thread since the offer (`LeafHashesAhead`, started by `openForScan`: the thread reads the
 * old file itself, ahead of the records), which the scan then takes for the leaves at the leaf boundaries
 * instead of hashing them as each window is read (issue 16: the scan of a cold 1 GiB download lagged the
 * signature by 0.3-0.5 s, its hash thread idle between windows, each waiting for its read and a turn of the
 * loop). Hashing in place stops once the scan follows leaves at another phase (an insertion or a deletion:
 * the leaves in place are not the server's) and when the scan ends.
 */
export async function takeLeaves(
  old: OldFile,
  signed: { signature: DeltaSignature; digest?: Buffer },
  partial: LeafPartial,
  arrival?: SignatureArrival,
  hashesAhead: ScanHashesAhead = new ScanHashesAhead(),
  knownOld?: ChunkHashes | LeafHashesAhead,
): Promise<TakenLeaves> {
  try {
    return await takeLeavesOf(old, signed, partial, arrival, hashesAhead, knownOld);
  } finally {
    OLD_FILE_SCAN_COUNTERS.hashedLeaves += hashesAhead.hashedLeaves;
    if (knownOld instanceof LeafHashesAhead) {
      await knownOld.stop();
      OLD_FILE_SCAN_COUNTERS.hashedLeaves += knownOld.hashes.knownCount;
      OLD_FILE_SCAN_COUNTERS.inPlaceLeaves += knownOld.hashes.knownCount;
    }
  }
}

async function takeLeavesOf(
  old: OldFile,
  signed: { signature: DeltaSignature; digest?: Buffer },
  partial: LeafPartial,
  arrival: SignatureArrival | undefined,
  hashesAhead: ScanHashesAhead,
  knownOld: ChunkHashes | LeafHashesAhead | undefined,
): Promise<TakenLeaves> {
  const { signature } = signed;
  const size = signature.oldSize;
  const total = signature.weak.length;
  const sources = new DeltaLeafSources(signature);
  if (total === 0) return { held: new ChunkHashes(size, LEAF_BYTES), identical: old.size === 0 };
  // The whole leaves found are written as they are scanned, onto a partial holding nothing (so the old file
  // is read once), and counted only once the file is known to differ.
  const placed =
    partial.verifiedBytes === 0 && partial.heldRanges().length === 0
      ? new PlacedLeaves(partial, size)
      : undefined;
  const unchangedNow = (): Promise<boolean> =>
    old.assertUnchanged().then(
      () => true,
      () => false,
    );
  const tables = new OldLeafTables(old, knownOld, unchangedNow);
  // No read passes the old file's end: a run of leaves placed later is inside it too.
  // A buffer is read into again only once its writes landed, the placing ones (queued piece by piece, so
  // settled first) and the partial's.
  const landed = async (): Promise<void> => {
    await placed?.settle();
    await partial.flushWrites();
  };
  const buffers = new ReadBuffers(landed, Math.min(old.size, SCAN_READ_BYTES));
  // Where the leaf hash thread writes the old file's leaves through into the partial (`hashInPlace`): the
  // scan writes no other bytes there before it is stopped, and takes the leaves it wrote without reading them.
  const gate = new WriteThroughGate(placed && knownOld, Math.min(old.size, size));
  const taken = new FoundLeaves(
    partial,
    sources,
    placed,
    buffers,
    unchangedNow,
    { size, oldSize: old.size },
    gate,
  );
  const matcher = new DeltaMatcher(signature, taken.note, arrival ? 0 : total);
  const writtenThrough = new WrittenThroughLeaves({
    gate,
    tables,
    matcher,
    totalBlocks: total,
    found: taken,
    sources,
    hashesAhead,
  });
  const reads = new WindowReadAhead(old, buffers, tables, hashesAhead);
  // Old-file ranges left unmatched by a scan of part of the signature: scanned again once it is whole.
  const again = new ScanAgain({ old, tables, matcher, taken, landed });
  /**
   * The placed leaves' acceptance (`FoundLeaves.acceptLanded`), window after window in order, behind the scan
   * rather than in its way: each waits for an fstat of the old file (its identity, so the bytes placed are
   * the bytes hashed), and while the scan awaited it, the next window's read, and so its hashing, waited too.
   */
  let accepting: Promise<void> = Promise.resolve();
  // The scan, then the leaves left; a failure leaves no placing write in flight behind it (the caller
  // closes the partial).
  const scanAndPlace = async (): Promise<TakenLeaves> => {
    // While the thread writes through, a window is read only when its leaves are not all taken so (an edit,
    // the file's end): read then, not ahead.
    let ahead: Promise<Piece> | undefined = gate.mayTake(0) ? undefined : reads.read(0);
    let early = ahead && reads.hashesOf(ahead);
    let hashes = early && reads.atPhase(early);
    for (let from = 0; from < old.size;) {
      const to = Math.min(old.size, from + SCAN_WINDOW_BYTES);
      const readEnd = Math.min(old.size, to - 1 + LEAF_BYTES);
      if (matcher.knownBlocks < total)
        matcher.extend(
          await arrival!.waitFor(Math.min(total, Math.ceil(readEnd / LEAF_BYTES) + LOOKAHEAD_BLOCKS)),
        );
      if (ahead === undefined) {
        // Written-through leaves are taken a batch at a time, as far as the signature arrived (not waited
        // for: the scan goes on with what came, as it does from a window).
        const took = await writtenThrough.take(from, from + WRITTEN_THROUGH_BATCH_BYTES);
        if (took > 0) {
          // Accepted behind the scan, in order with the windows' leaves, as theirs are.
          accepting = accepting.then(() => taken.acceptLanded());
          accepting.catch(() => undefined);
          from += took * LEAF_BYTES;
          if (matcher.knownBlocks === total) await again.scan();
          continue;
        }
        // An edit in place before leaves the thread wrote through: rolled over once the signature is whole.
        const edited = await writtenThrough.editedInPlace(from, LOOKAHEAD_BLOCKS);
        if (edited > 0) {
          again.add(from, from + edited * LEAF_BYTES);
          from += edited * LEAF_BYTES;
          continue;
        }
        ahead = reads.read(from);
        early = reads.hashesOf(ahead);
        hashes = reads.atPhase(early);
      }
      const whole = matcher.knownBlocks === total;
      const piece = await ahead;
      ahead = undefined;
      if (to < old.size && !gate.mayTake(to)) {
        ahead = reads.read(to);
        early = reads.hashesOf(ahead);
      }
      const window = piece.bytes.subarray(from - piece.at, readEnd - piece.at);
      // The hashes taken ahead were taken over `piece.bytes`, which `window` views: the bytes scanned.
      const scan = scanWindow(matcher, {
        bytes: window,
        from,
        to,
        atEnd: readEnd === old.size,
        known: await hashes!,
      });
      hashesAhead.follow(taken.offsets());
      // The leaves found lie at another phase (an insertion or a deletion): those in place are not the
      // server's, and hashing them goes no further (the insert case pays at most what it hashed so far).
      if (hashesAhead.phase !== undefined && hashesAhead.phase !== 0) tables.stopInPlace();
      if (ahead !== undefined) hashes = reads.atPhase(early!);
      sources.add(scan.ops);
      if (!whole)
        for (const op of scan.ops) if (op.oldOffset < 0) again.add(op.newOffset, op.newOffset + op.length);
      await taken.take(window, from, false);
      // Every write from this piece's buffer was handed over (the placing ones started, the partial's
      // queued, and submitted by the flush): the buffer is read into again once those have landed.
      buffers.done(piece.bytes, Promise.all([placed?.startedLanded(), partial.flushWrites()]));
      accepting = accepting.then(() => taken.acceptLanded());
      accepting.catch(() => undefined); // awaited after the last window, or settled before a failure goes on
      from = scan.next;
      // The signature is whole before the scan's end (the scan lags the signing): what earlier windows left
      // unmatched is scanned again now, while this window's writes land and the next window is read, not
      // after the last window (issue 16: ~70 ms of a 1 GiB download's end, three rewritten MiB rolled again).
      if (matcher.knownBlocks === total) await again.scan();
    }
    await accepting;
    if (matcher.knownBlocks < total) matcher.extend(await arrival!.waitFor(total));
    await again.scan();
    const digest = signed.digest ?? (await arrival!.digest());
    if (taken.identical(digest)) {
      // The caller discards the partial: the placing writes land first.
      await placed?.settle();
      return { held: taken.held, identical: true };
    }
    await taken.acceptRest();
    // The leaves left: those seen in place but not placed, and repeats of a leaf found once.
    sources.fillRepeats();
    await placeLeaves(old, sources, signature, partial, taken.held, taken.inPlace, buffers, gate);
    return { held: taken.held, identical: false };
  };
  try {
    return await scanAndPlace();
  } catch (err) {
    // Placing stops first: an acceptance still waiting for its fstat takes nothing once it has it.
    placed?.stop();
    await accepting.catch(() => undefined);
    await placed?.settle();
    throw err;
  } finally {
    OLD_FILE_SCAN_COUNTERS.hashedLeaves += matcher.hashedBlocks;
    OLD_FILE_SCAN_COUNTERS.rolledOffsets += matcher.rolledOffsets;
    // The slabs go back to the next scan only once no write reads from them.
    await landed().catch(() => undefined);
    buffers.release();
    again.release();
  }
}
