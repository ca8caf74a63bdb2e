import {
  DELTA_STRONG_BYTES,
  LEAF_BYTES,
  blockStrongHash,
  deltaBlockLength,
  MAX_DELTA_RECORD_BLOCKS,
  deltaBlockCount,
  leafHash,
  releaseWeakChecksumBuffer,
  takeWeakChecksumBuffer,
  weakChecksum,
  type ChunkHashes,
  type DeltaBlocksMessage,
} from '../protocol/index.js';
import type { ChunkSource } from './chunk-source.js';
import { LEAF_HASH_THREADS, type ReadLeaves } from './leaf-hash-thread.js';
import { leafHashesOf } from './leaf-hashes-of.js';

/** Leaves of the file read at once while signing: 64 (4 MiB), so reads stay large and memory small. */
const SIGN_READ_LEAVES = 64;

/**
 * Blocks per DELTA_BLOCKS record sent while signing in leaves: one read's worth (4 MiB of the file, a
 * 1.3 KiB record), not the most a record holds (2048: 128 MiB of the file), so the receiver of a delta
 * download scans its old file right behind the signing instead of a record's signing later (§5.17.3); the
 * records cost ~30 bytes each of header and MAC, 8 KiB per GiB.
 */
const SIGN_RECORD_BLOCKS = SIGN_READ_LEAVES;

/**
 * Pieces of a signing in leaves read, hashed and handed out at once (`signLeaves`): 3 of 4 MiB (the server's
 * delta memory counts them, `DELTA_SIGNING_READ_BYTES`), in turn over the leaf hash threads.
 */
const SIGN_PIECES = 3;

/**
 * The signature of `source` as DELTA_BLOCKS records of `ref` (PROTOCOL.md §5.17.2, the records of §5.15.2),
 * each handed to `send` as soon as it is full, while every leaf hash goes into `hashes` (whose chunks are
 * leaves): the file is read once for the signature, its digest and the hash cache. An empty file has no
 * record.
 *
 * Each piece is read, its leaves hashed and their weak checksums taken by a leaf hash thread
 * (`LEAF_HASH_THREADS`, pieces in turn over them), which has it read through the source's lent descriptor
 * into the weak checksum's shared memory, while this thread assembles the records of the pieces done and
 * serves the session (issue 16: a delta upload's server hashed its whole old file on the session's event
 * loop, and only then served the copies; then one thread hashed every piece, each read for this event loop
 * and handed over by it: 1 GiB signed alone in 0.73-0.90 s, the speed of one thread's SHA-256, now
 * 0.48-0.54 s on two threads when the machine has a core to spare; the weak checksums taken here after were
 * ~75 ms per GiB of the critical path of a cold delta download's server). One job per piece, not per leaf:
 * WebCrypto on libuv's pool, a copy and a hand-over per leaf, cost ~0.6 CPU s per GiB more. A source with no
 * descriptor to lend (an object store's), or a piece a thread could not read or hash, is read here, hashed as
 * `leafHashesOf` does and its weak checksums taken here. `stopped`, asked before each read, ends the signing
 * early with its error (the transfer ended: its file is about to close).
 */
export async function signLeaves(
  source: ChunkSource,
  ref: number,
  hashes: ChunkHashes,
  send: (record: DeltaBlocksMessage) => Promise<void>,
  onPiece?: SignedPieceHook,
  stopped?: () => Error | undefined,
  memory: SigningMemory = {},
): Promise<void> {
  if (hashes.chunkBytes !== LEAF_BYTES) throw new RangeError('a signature is taken over leaves');
  const size = source.size;
  const totalBlocks = deltaBlockCount(size);
  const { known, weakOut, writeThrough } = memory;
  if (known !== undefined && (known.count !== totalBlocks || known.knownCount !== totalBlocks))
    throw new RangeError('known leaf hashes of another file');
  if (weakOut !== undefined && weakOut.length !== totalBlocks)
    throw new RangeError('weak checksums of another file');
  const knownWeak = known === undefined ? undefined : memory.knownWeak;
  const sendRecord = (firstBlock: number, weak: Uint32Array, strong: Buffer): Promise<void> =>
    send({ type: 'DELTA_BLOCKS', ref, oldSize: size, blockBytes: LEAF_BYTES, firstBlock, weak, strong });
  // Known hashes and weak checksums, and no one wants the bytes: the signature is sent without a read.
  if (known !== undefined && knownWeak !== undefined && onPiece === undefined) {
    for (let firstBlock = 0; firstBlock < totalBlocks; firstBlock += SIGN_RECORD_BLOCKS) {
      const stop = stopped?.();
      if (stop !== undefined) throw stop;
      const count = Math.min(SIGN_RECORD_BLOCKS, totalBlocks - firstBlock);
      const weak = knownWeak.slice(firstBlock, firstBlock + count);
      const strong = Buffer.alloc(count * DELTA_STRONG_BYTES);
      for (let i = 0; i < count; i++) {
        const hash = known.get(firstBlock + i)!;
        hashes.set(firstBlock + i, hash);
        hash.copy(strong, i * DELTA_STRONG_BYTES, 0, DELTA_STRONG_BYTES);
      }
      weakOut?.set(weak, firstBlock);
      SIGNING_COUNTERS.knownLeaves += count;
      await sendRecord(firstBlock, weak, strong);
    }
    return;
  }
  // `pieces` buffers, so the pieces after this one are read, hashed and handed out while this one's weak
  // checksums are taken: each piece is asked of its thread as soon as its buffer is free, and handed to
  // `onPiece` as soon as it is read and hashed, so the threads' jobs and the hook's writes queue back to back
  // instead of one piece at a time behind this thread's turn (issue 16: with two buffers a piece's read
  // waited for the write of the one before the last, and its hook and hashing for this thread to take it, so
  // a delta upload's server wrote its partial at the pace of its signing and went on writing after it).
  // Shared memory, so the leaf hash threads read into it; in the weak checksum's module's memory when it has
  // room, so the weak checksums read them in place too (issue 16: their copy was ~0.085 CPU s per GiB). A
  // piece's leaves lie one after another from its buffer's start, which the module's memory aligns to its
  // pages, so a delta upload's server writes them into the new file around the page cache
  // (`StoredPartial.writeUnbuffered`, which needs that alignment; issue 16: 0.3-2 CPU s per GiB less).
  const slots = Math.min(SIGN_READ_LEAVES, Math.max(totalBlocks, 1));
  const threads = LEAF_HASH_THREADS;
  const pieces = SIGN_PIECES;
  const buffers = Array.from({ length: pieces }, () => takeWeakChecksumBuffer(slots * LEAF_BYTES));
  // The descriptor the threads read through, when they hash (and the source has one to lend).
  let fd: number | undefined;
  try {
    fd = known === undefined ? source.lendFd?.() : undefined;
  } catch {
    // Closing: the reads here fail as they should.
  }
  /** Once no read, hashing or hook uses them (both ends below wait for that): the next signing takes them. */
  const release = (): void => {
    buffers.forEach(releaseWeakChecksumBuffer);
    if (fd !== undefined) source.returnFd?.();
  };
  let turn = 0;
  /**
   * Settles once nothing uses each buffer's last piece (its hook and its hashing): read into again only
   * after.
   */
  const inUse: Promise<unknown>[] = buffers.map(() => Promise.resolve());
  /** The pieces started and not yet taken by `signPieces`, in file order. */
  const ahead: Promise<SignedPiece>[] = [];
  /**
   * Reads and hashes the leaves from `block` on (at most a piece) into the next buffer once its last piece
   * is done with, then hands them to `onPiece`, in file order (after the piece before).
   */
  const startPiece = (block: number): void => {
    const which = turn % pieces;
    // Pieces in turn over the threads, whatever the count of buffers.
    const thread = threads[turn++ % threads.length]!;
    const buffer = buffers[which]!;
    const views: Buffer[] = [];
    for (let i = 0; i < slots && block + i < totalBlocks; i++) {
      const at = i * LEAF_BYTES;
      views.push(buffer.subarray(at, at + deltaBlockLength(block + i, size)));
    }
    // One after another from the buffer's start: the piece of the file they make, hashed as one.
    const leafBytes = buffer.subarray(0, (views.length - 1) * LEAF_BYTES + views.at(-1)!.length);
    const read = (): Promise<Buffer[]> => {
      const stop = stopped?.();
      if (stop !== undefined) return Promise.reject(stop);
      SIGNING_COUNTERS.readLeaves += views.length;
      return source.readvExactly(views, block * LEAF_BYTES).then(() => views);
    };
    // Read, hashed and its weak checksums taken on a leaf hash thread, or (no descriptor, or the thread
    // could not) read here and hashed as `leafHashesOf` does; known hashes (of this very version of the
    // file, the caller's to ensure) are not taken again, the piece only read.
    const readHashed = (): Promise<Partial<ReadLeaves> | undefined> => {
      if (known !== undefined) return read().then(() => undefined);
      const stop = stopped?.();
      if (stop !== undefined) return Promise.reject(stop);
      const threaded = fd === undefined ? undefined : readOnThread(fd, block * LEAF_BYTES);
      return Promise.resolve(threaded).then(async (answer) => {
        if (answer === undefined) return { hashes: await read().then(() => leafHashesOf(leafBytes)) };
        SIGNING_COUNTERS.readLeaves += views.length;
        SIGNING_COUNTERS.threadReadLeaves += views.length;
        return answer;
      });
    };
    /**
     * The piece read and hashed on its thread, and its whole leaves written through where they lie when
     * `writeThrough` claims them (told whether they landed before the piece goes on to `onPiece`).
     */
    const readOnThread = async (from: number, at: number): Promise<ReadLeaves | undefined> => {
      const whole = Math.floor(leafBytes.length / LEAF_BYTES) * LEAF_BYTES;
      const through = whole > 0 ? writeThrough?.claim(at, whole) : undefined;
      if (through === undefined) return thread.readLeaves(from, at, leafBytes, buffer.length);
      let written = false;
      try {
        const answer = await thread.readLeavesWritingThrough(
          from,
          at,
          leafBytes,
          { fd: through, length: whole },
          buffer.length,
        );
        written = answer?.written === true;
        if (written) SIGNING_COUNTERS.writtenThroughLeaves += whole / LEAF_BYTES;
        return answer;
      } finally {
        writeThrough!.landed(at, whole, written);
      }
    };
    const before = ahead.at(-1);
    const reading = inUse[which]!.then(readHashed);
    const piece = Promise.all([reading, before]).then(([hashed]): SignedPiece => {
      const handed = onPiece?.(block * LEAF_BYTES, views);
      return { block, leaves: views, handed, hashed: hashed?.hashes, weak: hashed?.weak };
    });
    // Free again once its read and hashing are over and the hook is done with it (or was never called: the
    // piece before failed, or this one's read did).
    inUse[which] = Promise.all([
      reading.catch(() => undefined),
      piece.then(
        ({ handed }) => handed,
        () => undefined,
      ),
    ]);
    // A read still running when the signing stops (the session ended) must not become an unhandled rejection.
    piece.catch(() => undefined);
    ahead.push(piece);
  };
  let nextBlock = 0;
  const startNext = (): void => {
    if (nextBlock >= totalBlocks) return;
    startPiece(nextBlock);
    nextBlock += slots;
  };
  for (let i = 0; i < pieces; i++) startNext();
  try {
    await signPieces();
  } catch (err) {
    // Stopped or failed: still, no read queued and nothing `onPiece` or the hashing does with a buffer
    // outlives the signing (its caller may close the files read and written once this returns).
    await Promise.all(ahead.map((piece) => piece.catch(() => undefined)));
    await Promise.all(inUse);
    release();
    throw err;
  }
  // The caller learns the signing is over once every piece handed out is done with.
  await Promise.all(inUse);
  release();

  async function signPieces(): Promise<void> {
    for (let firstBlock = 0; firstBlock < totalBlocks; firstBlock += SIGN_RECORD_BLOCKS) {
      const count = Math.min(SIGN_RECORD_BLOCKS, totalBlocks - firstBlock);
      const weak = new Uint32Array(count);
      const strong = Buffer.alloc(count * DELTA_STRONG_BYTES);
      for (let block = firstBlock; block < firstBlock + count;) {
        const { leaves, hashed, weak: taken } = await ahead.shift()!;
        if (hashed === undefined) SIGNING_COUNTERS.knownLeaves += leaves.length;
        else SIGNING_COUNTERS.hashedLeaves += leaves.length;
        if (taken?.length === leaves.length) weak.set(taken, block - firstBlock);
        else if (knownWeak !== undefined)
          weak.set(knownWeak.subarray(block, block + leaves.length), block - firstBlock);
        else {
          SIGNING_COUNTERS.weakSummedLeaves += leaves.length;
          for (let i = 0; i < leaves.length; i++)
            weak[block + i - firstBlock] = weakChecksum(leaves[i]!, 0, leaves[i]!.length);
        }
        const leafHashes = hashed ?? knownHashesOf(known!, block, leaves.length);
        // This buffer's weak checksums are taken (or were, on its thread): the piece it holds next may be
        // read once its hook is done with it.
        startNext();
        for (let i = 0; i < leaves.length; i++) {
          const hash = leafHashes.subarray(i * 32, (i + 1) * 32);
          hashes.set(block + i, hash);
          hash.copy(strong, (block + i - firstBlock) * DELTA_STRONG_BYTES, 0, DELTA_STRONG_BYTES);
        }
        block += leaves.length;
      }
      weakOut?.set(weak, firstBlock);
      await sendRecord(firstBlock, weak, strong);
    }
  }
}

/** A piece of a signing in leaves, read, hashed and handed to the hook (`signLeaves`). */
interface SignedPiece {
  readonly block: number;
  readonly leaves: Buffer[];
  /** What the hook (`onPiece`) still does with it. */
  readonly handed: Promise<void> | undefined;
  /** Its leaf hashes, unless known. */
  readonly hashed: Buffer | undefined;
  /** Its leaves' weak checksums, when its thread took them. */
  readonly weak: Uint32Array | undefined;
}

/**
 * What a signing may know of its file already, and keep of it (issue 16, WARM deltas, `KnownLeafHashes`):
 * - `known`: every leaf's hash, of the very version of the file being signed (the caller compared the
 *   identity it was stored with to the open file's, and checks it again after the signing's last read):
 *   the leaves are then not hashed. With `knownWeak` (their weak checksums) too, and no `onPiece` wanting
 *   the bytes, the file is not read at all.
 * - `weakOut`: filled with every leaf's weak checksum as the records go, for the store.
 */
export interface SigningMemory {
  readonly known?: ChunkHashes | undefined;
  readonly knownWeak?: Uint32Array | undefined;
  readonly weakOut?: Uint32Array | undefined;
  /**
   * Where the pieces a leaf hash thread reads may also be written (`PieceWriteThrough`): a delta upload's
   * server placing its old file's leaves into the new one. Only pieces read on a thread are offered to it.
   */
  readonly writeThrough?: PieceWriteThrough | undefined;
}

/**
 * Writing a signing's pieces where they lie as they are read, from the leaf hash thread that reads and hashes
 * them (`LeafHashThread.readLeavesWritingThrough`), not from the signing's event loop after (issue 16).
 * `claim` is asked right before a piece is read, with its whole leaves (`length` bytes from file offset
 * `offset`): the descriptor to write them through, or undefined to leave them to `onPiece`. Every claim is
 * followed by `landed`, before the piece goes to `onPiece`: `written` true once every byte of them landed,
 * false when not all did (the bytes there are then unknown).
 */
export interface PieceWriteThrough {
  claim(offset: number, length: number): number | undefined;
  landed(offset: number, length: number, written: boolean): void;
}

/**
 * Leaves a signing in leaves hashed (`hashedLeaves`), took from known hashes (`knownLeaves`), read
 * (`readLeaves`), and took the weak checksums of on the signing's own thread (`weakSummedLeaves`: not on the
 * leaf hash thread that read them) in this process, for tests and benches: a warm delta signs with no leaf
 * hashed, and with known weak checksums and nothing to place, with no leaf read; a signing whose threads
 * read every piece takes no weak checksum on its event loop.
 */
export const SIGNING_COUNTERS = {
  hashedLeaves: 0,
  knownLeaves: 0,
  readLeaves: 0,
  threadReadLeaves: 0,
  writtenThroughLeaves: 0,
  weakSummedLeaves: 0,
};

/** The known hashes of leaves `[first, first + count)`, 32 bytes each in order, as `leafHashesOf` gives. */
function knownHashesOf(known: ChunkHashes, first: number, count: number): Buffer {
  const out = Buffer.allocUnsafe(32 * count);
  for (let i = 0; i < count; i++) known.get(first + i)!.copy(out, 32 * i);
  return out;
}

/**
 * Called by `signLeaves` with each piece of the file as read and hashed (`leaves`: views of whole leaves, in
 * order, from file offset `offset`), in file order; the views stay unchanged until the returned promise
 * settles, which must never reject (a delta upload's server writes them into the new file,
 * `delta-old-file.ts`).
 */
export type SignedPieceHook = (offset: number, leaves: readonly Buffer[]) => Promise<void>;

/**
 * The signature of `source` in blocks of `blockBytes` under one leaf (PROTOCOL.md §5.15.2, the size
 * `deltaBlockBytesFor` picks below 16 MiB, for a delta upload's old file and a delta download's file alike,
 * §5.17.2) as DELTA_BLOCKS records of `ref`, each handed to `send` as soon as it is full. The file is read a
 * leaf at a time; a block that spans two reads is gathered into a small buffer. With `leafHashes` (chunks of
 * one leaf) every leaf hash goes there too, so a download's digest and claim need no second read.
 */
export async function signBlocks(
  source: ChunkSource,
  ref: number,
  blockBytes: number,
  send: (record: DeltaBlocksMessage) => Promise<void>,
  leafHashes?: ChunkHashes,
): Promise<void> {
  if (leafHashes !== undefined && leafHashes.chunkBytes !== LEAF_BYTES)
    throw new RangeError('leaf hashes are kept in chunks of one leaf');
  const size = source.size;
  const totalBlocks = deltaBlockCount(size, blockBytes);
  const leaf = Buffer.allocUnsafe(Math.min(LEAF_BYTES, Math.max(size, 1)));
  const spanning = Buffer.allocUnsafe(blockBytes);
  let spanned = 0;
  let block = 0;
  let firstBlock = 0;
  let weak = new Uint32Array(Math.min(MAX_DELTA_RECORD_BLOCKS, totalBlocks));
  let strong = Buffer.alloc(weak.length * DELTA_STRONG_BYTES);
  const add = async (bytes: Buffer): Promise<void> => {
    weak[block - firstBlock] = weakChecksum(bytes, 0, bytes.length);
    blockStrongHash(bytes).copy(strong, (block - firstBlock) * DELTA_STRONG_BYTES);
    block++;
    if (block - firstBlock < weak.length) return;
    await send({ type: 'DELTA_BLOCKS', ref, oldSize: size, blockBytes, firstBlock, weak, strong });
    firstBlock = block;
    weak = new Uint32Array(Math.min(MAX_DELTA_RECORD_BLOCKS, totalBlocks - block));
    strong = Buffer.alloc(weak.length * DELTA_STRONG_BYTES);
  };
  for (let at = 0; at < size; at += LEAF_BYTES) {
    const piece = leaf.subarray(0, Math.min(LEAF_BYTES, size - at));
    await source.readExactly(piece, 0, piece.length, at);
    leafHashes?.set(at / LEAF_BYTES, leafHash(piece));
    for (let i = 0; i < piece.length;) {
      const want = deltaBlockLength(block, size, blockBytes) - spanned;
      const take = Math.min(want, piece.length - i);
      if (spanned === 0 && take === want) {
        await add(piece.subarray(i, i + take));
      } else {
        piece.copy(spanning, spanned, i, i + take);
        spanned += take;
        if (take === want) {
          await add(spanning.subarray(0, spanned));
          spanned = 0;
        }
      }
      i += take;
    }
  }
}
