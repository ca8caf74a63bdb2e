import { FerryError } from '../errors/index.js';
import { LEAF_BYTES, type BytePiece, type ChunkHashes, type DeltaSignature } from '../protocol/index.js';
import {
  LeafHashesAhead,
  PartialTransfer,
  SourceFile,
  deltaDurableBatchBytes,
  type KnownLeafHashes,
  type PartialStore,
  type RootPath,
} from '../transfer/index.js';
import { takeBlocks, type FoundBlocks } from './delta-blocks-download.js';
import type { ArrivingSignature } from './arriving-signature.js';
import { takeLeaves, type TakenLeaves } from './delta-download.js';

/**
 * Scanning the old file of a delta download (`scanOldFile`, PROTOCOL.md §5.17.3, §5.17.4), and how many
 * scans run at once in this process. A `get -r` has up to MAX_PIPELINED downloads in flight, and each scan
 * holds its read window and the partial's pending writes of the leaves it takes; the scan itself runs on the
 * event loop, so more than two at once gain only overlapped reads, and cost memory per file (16 changed
 * 15 MiB files: about 135 MiB peak all at once).
 */
const MAX_SCANS = 2;

let running = 0;
const waiting: Array<() => void> = [];

/** Runs `scan` once fewer than MAX_SCANS others run; the next waiting one starts when it settles. */
export async function withOldFileScan<T>(scan: () => Promise<T>): Promise<T> {
  if (running >= MAX_SCANS) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await scan();
  } finally {
    // The slot passes straight to the next waiting scan, so `running` counts it without a gap.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** What a PATCH request asked for, and where the old file holds the rest of those leaves (§5.17.4). */
export interface Patch {
  readonly pieces: BytePiece[];
  readonly found: FoundBlocks;
}

/** What scanning the old file gave a delta download: it is the server's file, or the leaves it holds. */
export type OldFileScan =
  | { kind: 'identical' }
  | {
      kind: 'taken';
      taken: TakenLeaves;
      patch: Patch | undefined;
      /** The old file, open while a patched download reads from it (§5.17.4), else closed. */
      old: SourceFile;
      /**
       * The download's partial holding `taken.held`, still open (its last leaves made durable behind the
       * second request, not before it): the caller receives the rest into it or closes it.
       */
      partial: PartialTransfer;
    };

/** What a delta download's scan reads and writes (`openForScan`), opened before its signature is whole. */
export interface OpenedForScan {
  readonly old: SourceFile;
  /**
   * The old file's leaf hashes from the client's store, for the version opened (issue 16, WARM deltas), or
   * else, in leaves, those being hashed in place on the leaf hash thread since the offer (`takeLeaves`).
   */
  readonly known: ChunkHashes | LeafHashesAhead | undefined;
  /** The download's partial, fresh, of the offered size in chunks of one leaf. */
  readonly partial: PartialTransfer;
}

/**
 * Opens the old file and the download's partial for a scan of the old file (`scanOldFile`), with the old
 * file's leaf hashes from the client's store when it knows this version of it and the signature is in leaves
 * (`blockBytes`, the rule's for the offered size, §5.17.2). Called once the offer is in, so this is done
 * while the server reads and hashes its first leaves, not after its first record (issue 16: ~30 ms, most
 * of it the partial's files made durable, between the first record and the scan's first window).
 */
export async function openForScan(
  partials: PartialStore<RootPath, RootPath>,
  target: RootPath,
  offer: { size: number },
  blockBytes: number,
  options: ScanOptions,
): Promise<OpenedForScan> {
  // Only the file where the destination was resolved (`rooted`: the descriptor's kernel path): a directory on
  // the way swapped for a link since would have the scan read, and the second request tell the server about,
  // a file elsewhere (docs/SECURITY.md, "The old file of a delta download, reached through a swapped link").
  const old = await SourceFile.open(target.path, { noFollow: true, rooted: true });
  try {
    const store = options.knownLeafHashes;
    // The old file's leaf hashes, if ferry wrote or signed this very version of it (the identity of the
    // descriptor just opened): the scan then hashes none of its leaves in place (issue 16, WARM deltas).
    const known =
      store !== undefined && blockBytes === LEAF_BYTES
        ? await store.find(target.path, old.identity).catch(() => undefined)
        : undefined;
    const partial = await PartialTransfer.open(partials, target, {
      size: offer.size,
      mtimeMs: 0,
      chunkBytes: LEAF_BYTES,
      fresh: true,
      // Mostly the old file's leaves, verified at the speed of memory: batched as a delta upload's server does.
      durableBatchBytes: deltaDurableBatchBytes(options.durableBatchBytes),
      onDurable: options.onDurable,
      knownLeafHashes: store && { store, place: target.path },
      // As a download's own open: a stripe's GET_END names the digest over the chunks it sent (§5.13.6).
      checkPartDigests: true,
    });
    return {
      old,
      known: known?.hashes ?? (blockBytes === LEAF_BYTES ? hashInPlace(old, offer.size, partial) : undefined),
      partial,
    };
  } catch (err) {
    await old.close();
    throw err;
  }
}

/** Old files being hashed in place (`hashInPlace`) in this process now. */
let hashingInPlace = 0;

/**
 * Starts hashing the old file's leaves where they lie, up to the offered size, on the leaf hash thread, which
 * reads the file itself (`LeafHashesAhead`): from the offer on, while the server still signs, rather than
 * window by window as the scan, paced by its reads and the records, reads them (issue 16: a cold 1 GiB
 * download's scan finished 0.3-0.5 s after the signature's end). An edit in place leaves most leaves where
 * they are; the scan stops it once it finds them elsewhere (`takeLeaves`), and it is stopped when the scan
 * ends. At most MAX_SCANS at once in the process, as many as scans run (a `get -r` has up to MAX_PIPELINED
 * offers in flight, each with its old file open): each holds a table of 32 bytes a leaf (at most 8 MiB) and
 * takes turns on the one thread. Undefined when that many already run: the scan then hashes its leaves
 * window by window, as without it.
 *
 * With `partial` (the download's, holding nothing yet), the thread also writes each whole leaf it hashes
 * where it lies into it, speculatively, below min(old size, offered size) (issue 16: the scan read the old
 * file a second time to place its leaves, a cold 1 GiB download CPU-bound on two cores): those bytes count
 * for nothing (a resume after a cut sees unverified bytes there) until the scan matched the leaf in place to
 * the server's by the hash the thread took of those very bytes (`takeLeaves`); the scan writes nothing of
 * its own where the thread may still write (`WriteThroughGate`).
 */
export function hashInPlace(
  old: Pick<SourceFile, 'size' | 'readExactly'> & Partial<Pick<SourceFile, 'lendFd' | 'returnFd'>>,
  offered: number,
  partial?: Pick<PartialTransfer, 'lendUnbuffered' | 'verifiedBytes' | 'heldRanges'>,
): LeafHashesAhead | undefined {
  if (hashingInPlace >= MAX_SCANS) return undefined;
  hashingInPlace++;
  // Whole leaves past the offered size can match none of the server's: not hashed.
  const size = Math.min(old.size, Math.ceil(offered / LEAF_BYTES) * LEAF_BYTES);
  // Only into a partial that holds nothing: no write may land on a verified chunk.
  const empty = partial !== undefined && partial.verifiedBytes === 0 && partial.heldRanges().length === 0;
  const hashing = LeafHashesAhead.start(
    {
      size,
      readExactly: (buffer, offset, length, position) => old.readExactly(buffer, offset, length, position),
      lendFd: old.lendFd && (() => old.lendFd!()),
      returnFd: old.returnFd && (() => old.returnFd!()),
    },
    empty ? { lend: () => partial.lendUnbuffered(), end: Math.min(old.size, offered) } : undefined,
  );
  // The slot is free once the scan (or an answer that failed before it) stopped it, not once its hashing
  // ended: its table stays with the offer until then, and a `get -r` with many offers in flight and their
  // signatures held back would otherwise keep a table for each (helper sec2's review: up to 256 x 8 MiB).
  void hashing.stopped().then(() => hashingInPlace--);
  return hashing;
}

/**
 * Undoes `openForScan` for an answer that failed before its scan began: the old file closed, the partial
 * (fresh, nothing written into it) removed.
 */
export async function closeOpenedForScan(opened: Promise<OpenedForScan>): Promise<void> {
  const them = await opened.catch(() => undefined);
  if (them === undefined) return;
  try {
    if (them.known instanceof LeafHashesAhead) await them.known.stop();
    await them.partial.discard();
  } finally {
    await them.old.close();
  }
}

/** How a delta download's partial is kept (`openForScan`). */
export interface ScanOptions {
  durableBatchBytes?: number | undefined;
  /** Told the bytes verified and durable whenever they grow (the partial's `onDurable`). */
  onDurable?: ((verifiedBytes: number) => void) | undefined;
  /** The client's store of leaf hashes (issue 16): the old file's, if known; the new file's, once placed. */
  knownLeafHashes?: KnownLeafHashes | undefined;
}

/**
 * Takes what the old file holds of the server's file into the download's partial, both opened by
 * `openForScan` (PROTOCOL.md §5.17.3, §5.17.4), a few scans at once in the process, each with the writes of
 * the leaves it takes (memory per download in flight). With `arrival` the signature (in leaves) is still
 * arriving. The old file is closed once scanned unless a patch reads from it; the partial is closed if the
 * scan fails.
 */
export async function scanOldFile(
  opened: Promise<OpenedForScan>,
  signed: { signature: DeltaSignature; digest?: Buffer },
  arrival: ArrivingSignature | undefined,
): Promise<OldFileScan> {
  const { signature, digest } = signed;
  const { old, known, partial } = await opened;
  let taken: TakenLeaves;
  let patch: Patch | undefined;
  // A patched download reads the bytes around its pieces from the old file as it writes them (§5.17.4), so
  // the handle stays open until that download ends; otherwise it closes once the old file is scanned.
  let keepOld = false;
  try {
    try {
      // PROTOCOL.md §5.17.4: a file under 16 MiB is signed in blocks under one leaf; the bytes of leaves not
      // wholly found are asked for as pieces, the rest of those leaves read from the old file around them.
      taken = await withOldFileScan(async () => {
        // Hashing in place starts here when it could not at the offer (as many ran then).
        if (signature.blockBytes >= LEAF_BYTES)
          return takeLeaves(
            old,
            signed,
            partial,
            arrival,
            undefined,
            known ?? hashInPlace(old, signature.oldSize, partial),
          );
        if (digest === undefined)
          throw new FerryError('INTERNAL', 'blocks are scanned once the signature is whole');
        const blocks = await takeBlocks(old, { signature, digest }, partial);
        if (blocks.patch.length > 0) patch = { pieces: blocks.patch, found: blocks.found };
        return blocks;
      });
    } catch (err) {
      // The thread may write through into the partial: stopped (its writes landed) before it closes.
      if (known instanceof LeafHashesAhead) await known.stop();
      await partial.close();
      throw err;
    }
    if (taken.identical) {
      // The old file is the server's: it stays as it is, and the partial opened for nothing goes.
      await partial.discard();
      return { kind: 'identical' };
    }
    // Left open: the second request goes out while its last leaves are made durable (a cut resumes with
    // the leaves durable by then), and the rest is received into it without closing and opening it again.
    keepOld = patch !== undefined;
  } finally {
    // The hashing in place reads through a descriptor lent by `old`: stopped before it closes (`takeLeaves`
    // stops it too, but may not have run).
    if (known instanceof LeafHashesAhead) await known.stop();
    if (!keepOld) await old.close();
  }
  return { kind: 'taken', taken, patch, old, partial };
}
