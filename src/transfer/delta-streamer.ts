import { FerryError } from '../errors/index.js';
import {
  ChunkHasher,
  ChunkHashes,
  LEAF_BYTES,
  MAX_PUT_DATA_BYTES,
  MerkleStack,
  chunkLength,
  deltaOpsWithin,
  forgetLeafHashes,
  noteLeafHash,
  type DeltaMatcher,
  type DeltaOp,
  type DeltaScan,
  type KnownLeafHash,
} from '../protocol/index.js';
import type { ChunkSource } from './chunk-source.js';
import { LEAF_HASH_THREAD } from './leaf-hash-thread.js';
import type { LeafHashesAhead } from './leaf-hashes-ahead.js';

/** Where a delta streamer puts a chunk's pieces (PROTOCOL.md §5.15.3): copies, literals, then the hash. */
export interface DeltaSink {
  sendCopy(offset: number, oldOffset: number, length: number): Promise<void>;
  /** `data` lies in the streamer's read buffer, reused for the next chunk once this resolves: copy it. */
  sendData(offset: number, data: Buffer): Promise<void>;
  sendChunk(index: number, chunkHash: Buffer): Promise<void>;
}

export interface StreamDeltaOptions {
  chunkBytes: number;
  chunks: Iterator<number>;
  hashes: ChunkHashes;
  matcher: DeltaMatcher;
  sink: DeltaSink;
  signal?: AbortSignal | undefined;
  onChunk?: (index: number, chunkHash: Buffer, bytes: number) => void | Promise<void>;
  /** The file's leaf hashes taken while the signature arrived (`LeafHashesAhead`), used where they hold. */
  ahead?: LeafHashesAhead | undefined;
  /**
   * Hashes each chunk's window on the leaf hash thread as soon as it is read, at the phase of the last match
   * (the client's `ScanHashesAhead`: one policy for both directions' scans), while the chunk before it is
   * scanned here; undefined: the matcher hashes what it checks itself.
   */
  scanAhead?: ScanAhead | undefined;
  /**
   * With `arriving`, the matcher's signature is still arriving (its arrays at full size, filled in block
   * order, PROTOCOL.md §5.15.2): see `streamDeltaChunks`.
   */
  arriving?: UploadSignatureArrival | undefined;
}

/**
 * Leaf hashes of a scan's window taken off the scanning thread (src/client/scan-hashes-ahead.ts): `start`
 * over a window read into shared memory, `follow` with the offsets a scan matched at, `phase` the offset mod
 * LEAF_BYTES it hashes at now (undefined while it hashes nothing).
 */
export interface ScanAhead {
  start(piece: Buffer, at: number, before: number): Promise<KnownLeafHash | undefined>;
  follow(offsets: readonly number[]): void;
  readonly phase: number | undefined;
}

/** A chunk's window being read (`streamDeltaChunks`), and its leaves hashed ahead once read. */
interface WindowRead {
  readonly chunk: number;
  readonly window: Buffer;
  /**
   * The chunk's leaf hashes (taken ahead) when every leaf of it is found in place by its hash alone: it is
   * then not read (`read` resolves without reading, and nothing is hashed ahead).
   */
  readonly inPlace: Promise<Buffer[] | undefined>;
  readonly read: Promise<void>;
  /** Whether its read started (it starts once `inPlace` said no, unless the stream failed meanwhile). */
  readStarted(): boolean;
  /** Its leaves at the last match's phase, off the boundaries (`ScanAhead`). */
  readonly known: Promise<KnownLeafHash | undefined>;
  /** Its whole leaves on the boundaries, when the new file's hashes taken ahead do not hold them. */
  readonly boundaries: Promise<Buffer | undefined>;
}

/** A delta upload's signature as its records arrive (PROTOCOL.md §5.15.2), fed by the loop receiving them. */
export interface UploadSignatureArrival {
  /** The blocks the whole signature has. */
  readonly totalBlocks: number;
  /** Resolves once at least `blocks` blocks arrived (all, at most), with the number arrived. */
  waitFor(blocks: number): Promise<number>;
}

/**
 * Blocks of the signature a chunk's scan waits for beyond its window's end (64 leaves, one record of the
 * server's signing): bytes found up to 4 MiB further on in the old file (a deletion) are found on the first
 * pass; a chunk left with literal bytes is scanned again once the signature is whole.
 */
const LOOKAHEAD_BLOCKS = 64;

/** What a delta stream sent: file bytes covered, and how many of them travelled as literals. */
export interface DeltaStreamed {
  readonly bytes: number;
  readonly literalBytes: number;
}

/**
 * Sends the chunks `chunks` yields as PUT_COPY and PUT_DATA pieces and PUT_CHUNK (PROTOCOL.md §5.15.3). Each
 * chunk is read with the block after it, so a match that starts in the chunk is seen whole; a match running
 * past the chunk's end is carried into the next chunk when that is the next one sent (a resume skips held
 * chunks, and the carry is dropped). The chunk hash is computed over the chunk's bytes as read, as for a
 * plain upload: the server rebuilds the chunk and checks it against that hash.
 *
 * With `arriving`, the scan runs while the server still signs (issue 16: the signing and the scan followed
 * each other): a chunk is scanned once the records reach LOOKAHEAD_BLOCKS past its window, and sent at once
 * when it is copies alone; a chunk with literal bytes is kept (only its number and carry) and scanned again
 * once the signature is whole, so no literal goes that a block arriving later would have spared, and no
 * PUT_DATA goes before the last record (PROTOCOL.md §5.15.2).
 *
 * The next chunk's window is read while this one is scanned, into the other of two shared buffers, and with
 * `scanAhead` its leaves at the last match's phase are hashed on the leaf hash thread meanwhile (issue 16:
 * after an insertion every leaf the matcher checks is shifted off the leaf boundaries hashed ahead, and the
 * scan hashed them on this thread, ~0.6 s per GiB, reading and hashing one after the other).
 */
export async function streamDeltaChunks(
  source: ChunkSource,
  options: StreamDeltaOptions,
): Promise<DeltaStreamed> {
  const { chunkBytes, chunks, hashes, matcher, sink, arriving } = options;
  const hasher = new ChunkHasher();
  let bytes = 0;
  let literalBytes = 0;
  let carry: Carry | undefined;
  /**
   * Two read buffers, used in turn: a fresh chunk-sized buffer each time was the client's main garbage (a
   * third of its CPU in collections at 256 MiB). Shared memory, so the leaf hash thread reads a window in
   * place. A buffer is read into again only once the chunk read into it two turns before is sent (the sink
   * copies what it sends before it resolves) or kept for later, so every hash taken ahead and every leaf
   * hint noted in it is of the bytes there (the hints are taken by the chunk hash, or forgotten).
   */
  let buffers: Buffer[] | undefined;
  let turn = 0;
  /** Chunks scanned while the signature arrived that kept literal bytes, each with the carry it had. */
  const later: Array<{ chunk: number; carried: Carry | undefined }> = [];
  const whole = (): boolean => matcher.knownBlocks >= (arriving?.totalBlocks ?? 0);
  /**
   * Whether the last chunk scanned ended on a block found in place: the chunks read next are first tried
   * whole in place (`leavesInPlace`). After an insertion or deletion they are read at once, as before.
   */
  let lastInPlace = true;
  // Only a new file of the old one's size is tried in place, the sign of data changed in place (as the
  // server's placing, `DeltaOldFile`): after an insertion or deletion the old leaves lie elsewhere.
  const sameSize = source.size > 0 && matcher.oldSize === source.size;
  /**
   * Leaves hashed ahead whose bytes are known to be the version opened: hashed before the source's identity
   * was last checked unchanged (`sendInPlace`).
   */
  let checkedLeaves = 0;
  /** Set when the stream fails: no window is read from then on (the caller may close the source). */
  let failed = false;
  /**
   * The leaf hashes of chunk `[start, end)` taken ahead (`options.ahead`) when every one of them is the
   * signature's block at the same offset: the chunk is then one copy in place, known without reading or
   * scanning it (issue 16: a file changed in place was read twice, once ahead and once by the scan, and
   * every chunk scanned). Waits for the blocks of the chunk and for the hashing ahead to reach it (the one
   * hashing of those bytes either way). Undefined otherwise: it is read and scanned.
   */
  const leavesInPlace = async (start: number, end: number): Promise<Buffer[] | undefined> => {
    const ahead = options.ahead;
    if (ahead === undefined || !sameSize || !lastInPlace || matcher.blockBytes !== LEAF_BYTES)
      return undefined;
    if (start % LEAF_BYTES !== 0 || end % LEAF_BYTES !== 0) return undefined;
    const first = start / LEAF_BYTES;
    const last = end / LEAF_BYTES;
    if (arriving && matcher.knownBlocks < last)
      matcher.extend(Math.max(matcher.knownBlocks, await arriving.waitFor(last)));
    if (matcher.knownBlocks < last) return undefined;
    await ahead.hashedThrough(last);
    const leaves: Buffer[] = [];
    for (let leaf = first; leaf < last; leaf++) {
      const hash = ahead.hashes.get(leaf);
      if (hash === undefined || !matcher.holdsLeaf(leaf, hash)) return undefined;
      leaves.push(hash);
    }
    return leaves;
  };
  /**
   * Starts reading chunk `chunk` with the block after it, and hashing its leaves ahead once read, unless it
   * is found in place whole first. With `scanOnly`, it is not tried in place (a chunk to scan again, or one
   * found in place that must be scanned after all), and read into `scanOnly.into` when given, without
   * taking a buffer's turn.
   */
  const readWindow = (chunk: number, scanOnly?: { readonly into?: Buffer }): WindowRead => {
    const start = chunk * chunkBytes;
    const end = start + chunkLength(chunk, source.size, chunkBytes);
    const windowEnd = Math.min(source.size, end + matcher.blockBytes - 1);
    const bytes = Math.min(source.size, chunkBytes + matcher.blockBytes - 1);
    buffers ??= [0, 1].map(() => Buffer.from(new SharedArrayBuffer(bytes)));
    const window = scanOnly?.into ?? buffers[turn++ % 2]!.subarray(0, windowEnd - start);
    // A failure while deciding (the signature's) is met again by the scan's own wait for the blocks.
    const inPlace =
      scanOnly === undefined ? leavesInPlace(start, end).catch(() => undefined) : Promise.resolve(undefined);
    let started = false;
    const wasRead = inPlace.then(async (leaves) => {
      if (leaves !== undefined || failed) return false;
      started = true;
      await source.readExactly(window, 0, window.length, start);
      return true;
    });
    const read = wasRead.then(() => undefined);
    // At the phase known when the read lands; leaves on the boundaries are `ahead`'s (`knownLeaves`) or
    // hashed here: the hashing ahead stops once the signature is whole (`LeafHashesAhead.stop`), and the
    // chunks past it were hashed on this thread (issue 16: most of an insertion's client CPU).
    const known = wasRead.then((was) => {
      const phase = options.scanAhead?.phase;
      return !was || phase === undefined || phase === 0
        ? undefined
        : options.scanAhead!.start(window, start, end);
    });
    const boundaries = wasRead.then((was) => {
      if (!was) return undefined;
      const ahead = options.ahead;
      if (ahead?.hashes.has(start / LEAF_BYTES)) return undefined;
      // The scan has caught up with the hashing ahead: from here on the scan's own reads are hashed, and
      // the hashing ahead would only hash the same leaves again.
      void ahead?.stop();
      return LEAF_HASH_THREAD.wholeLeaves(window.subarray(0, end - start));
    });
    // Awaited by the scan; one left behind by a failure or an abort must not go unhandled.
    read.catch(() => undefined);
    known.catch(() => undefined);
    boundaries.catch(() => undefined);
    return { chunk, window, inPlace, read, readStarted: () => started, known, boundaries };
  };
  /** Scans the chunk read by `reading` from `carried` on. */
  const scanChunk = async (
    reading: WindowRead,
    carried: Carry | undefined,
  ): Promise<{ window: Buffer; ops: DeltaOp[]; next: Carry | undefined; scannedWhole: boolean }> => {
    const { chunk, window } = reading;
    const start = chunk * chunkBytes;
    const length = chunkLength(chunk, source.size, chunkBytes);
    const end = start + length;
    const windowEnd = start + window.length;
    if (arriving && !whole()) {
      const want = Math.min(
        arriving.totalBlocks,
        Math.ceil(windowEnd / matcher.blockBytes) + LOOKAHEAD_BLOCKS,
      );
      matcher.extend(Math.max(matcher.knownBlocks, await arriving.waitFor(want)));
    }
    await reading.read;
    const onBoundaries =
      (await knownLeaves(source, options.ahead, window, start, end)) ??
      boundaryLeaves(window, start, await reading.boundaries);
    const shifted = await reading.known;
    matcher.useKnownLeafHashes(
      onBoundaries && shifted
        ? (offset) => onBoundaries(offset) ?? shifted(offset)
        : (onBoundaries ?? shifted),
    );
    const from = carried ? Math.min(carried.next, end) : start;
    // A block found at a leaf of this chunk was hashed by the matcher over these very bytes, which stay as
    // they are: the chunk hash below takes that leaf hash (a leaf hint) instead of hashing the leaf again.
    // Only a whole leaf's hash is a leaf hash: a block smaller than a leaf (old files under 16 MiB, §5.15.2)
    // or a short last block is not, and a wrong hint would make the chunk hash wrong.
    matcher.listen((block, offset, leafHash) => {
      if (
        matcher.blockLength(block) === LEAF_BYTES &&
        offset + LEAF_BYTES <= end &&
        (offset - start) % LEAF_BYTES === 0
      )
        noteLeafHash(window.buffer, window.byteOffset + (offset - start), leafHash);
    });
    let scan: DeltaScan;
    try {
      scan = matcher.scan(window, start, from, end, windowEnd === source.size);
    } finally {
      matcher.listen(undefined);
      matcher.useKnownLeafHashes(undefined);
    }
    options.scanAhead?.follow(scan.ops.filter((op) => op.oldOffset >= 0).map((op) => op.newOffset));
    const ops = [...(carried ? deltaOpsWithin(carried.ops, start, from) : []), ...scan.ops];
    const next =
      scan.next > end
        ? { chunk: chunk + 1, next: scan.next, ops: deltaOpsWithin(scan.ops, end, scan.next) }
        : undefined;
    // Whether it was scanned over the whole signature: the blocks arrived since (`leavesInPlace` takes them
    // too) were not looked for.
    return { window, ops: deltaOpsWithin(ops, start, end), next, scannedWhole: whole() };
  };
  /**
   * Sends a scanned chunk: its copies and literals, then its hash: `leaves`' (the chunk's leaf hashes, when
   * it was found in place without being read) or that of its bytes in `window`.
   */
  const sendChunk = async (
    chunk: number,
    window: Buffer,
    ops: readonly DeltaOp[],
    leaves?: readonly Buffer[],
  ): Promise<void> => {
    const start = chunk * chunkBytes;
    const length = chunkLength(chunk, source.size, chunkBytes);
    for (const op of ops) {
      if (op.oldOffset >= 0) {
        await sink.sendCopy(op.newOffset, op.oldOffset, op.length);
        continue;
      }
      literalBytes += op.length;
      for (let at = op.newOffset; at < op.newOffset + op.length; at += MAX_PUT_DATA_BYTES) {
        const n = Math.min(MAX_PUT_DATA_BYTES, op.newOffset + op.length - at);
        await sink.sendData(at, window.subarray(at - start, at - start + n));
      }
    }
    const chunkHash =
      leaves === undefined ? hasher.update(window.subarray(0, length)).digest() : rootOf(leaves);
    hashes.set(chunk, chunkHash);
    await sink.sendChunk(chunk, chunkHash);
    bytes += length;
    await options.onChunk?.(chunk, chunkHash, length);
  };
  let item = chunks.next();
  let reading = item.done ? undefined : readWindow(item.value);
  let scanning: WindowRead | undefined;
  try {
    while (reading !== undefined) {
      if (options.signal?.aborted) throw new FerryError('ABORTED');
      const chunk = reading.chunk;
      const carried = carry?.chunk === chunk ? carry : undefined;
      scanning = reading;
      // The next window is read (and hashed ahead) into the other buffer while this one is scanned and sent.
      item = chunks.next();
      reading = item.done ? undefined : readWindow(item.value);
      const leaves = await scanning.inPlace;
      if (leaves !== undefined && carried === undefined) {
        await sendInPlace(chunk, scanning.window, leaves);
        carry = undefined;
        continue;
      }
      // A match carried into a chunk found in place: it is read and scanned from the carry's end after all.
      if (leaves !== undefined) scanning = readWindow(chunk, { into: scanning.window });
      const { window, ops, next, scannedWhole } = await scanChunk(scanning, carried);
      const lastCopy = ops.findLast((op) => op.oldOffset >= 0);
      if (lastCopy !== undefined) lastInPlace = lastCopy.oldOffset === lastCopy.newOffset;
      carry = next;
      // PROTOCOL.md §5.15.2: no PUT_DATA before the signature is whole. A chunk of copies alone goes now (no
      // block arriving later could spare it a literal byte); one with literals waits to be scanned again.
      if (!scannedWhole && ops.some((op) => op.oldOffset < 0)) {
        forgetLeafHashes(window.buffer);
        later.push({ chunk, carried });
        continue;
      }
      await sendChunk(chunk, window, ops);
    }
  } catch (err) {
    // A read left by a failure: over before the caller may close the source; one not started never starts.
    failed = true;
    for (const left of [scanning, reading])
      if (left?.readStarted()) {
        await left.known.catch(() => undefined);
        await left.boundaries.catch(() => undefined);
      }
    throw err;
  }
  if (later.length > 0 && arriving) matcher.extend(await arriving.waitFor(arriving.totalBlocks));
  for (const { chunk, carried } of later) {
    if (options.signal?.aborted) throw new FerryError('ABORTED');
    // Scanned before with literal bytes, so not in place whole: read and scanned again.
    const { window, ops } = await scanChunk(readWindow(chunk, {}), carried);
    await sendChunk(chunk, window, ops);
  }
  return { bytes, literalBytes };

  /**
   * Sends chunk `chunk` found in place whole (`leavesInPlace`) as one copy, its hash that of its leaf hashes
   * taken ahead: only once the source was found still the version opened after they were hashed (as
   * `knownLeaves` checks after a read), so those hashes are of the bytes it holds; a source that changed
   * fails with SOURCE_CHANGED.
   */
  async function sendInPlace(chunk: number, window: Buffer, leaves: readonly Buffer[]): Promise<void> {
    const start = chunk * chunkBytes;
    const length = chunkLength(chunk, source.size, chunkBytes);
    // One check covers every leaf whose read was over before it started, usually far ahead of this chunk:
    // not a round trip to the pool per chunk (its latency, chunk after chunk, held a loaded client back).
    if ((start + length) / LEAF_BYTES > checkedLeaves) {
      const hashed = options.ahead?.hashedLeaves ?? 0;
      await source.assertUnchanged();
      checkedLeaves = hashed;
    }
    matcher.foundWithoutScan((start + length) / LEAF_BYTES - 1);
    await sendChunk(chunk, window, [{ newOffset: start, length, oldOffset: start }], leaves);
    options.scanAhead?.follow([start + length - LEAF_BYTES]);
  }
}

/** The chunk hash (PROTOCOL.md §7.2) of a chunk of whole leaves, from their leaf hashes (each copied). */
function rootOf(leaves: readonly Buffer[]): Buffer {
  const tree = new MerkleStack();
  for (const leaf of leaves) tree.push(leaf);
  return tree.root();
}

/** A match running past a chunk's end, carried into the next chunk when that is the next one scanned. */
interface Carry {
  readonly chunk: number;
  readonly next: number;
  readonly ops: DeltaOp[];
}

/**
 * The leaf hashes taken ahead for the whole leaves of chunk `[start, end)`, read into `window`: noted for
 * the chunk hash (leaf hints) and returned for the matcher. Only when the source's identity (device, inode,
 * size, mtime and ctime in ns) is still the one it had when opened, checked after the window was read: then
 * the bytes hashed ahead are the bytes read (any write moves the ctime). A source that changed fails the
 * upload with SOURCE_CHANGED here, as the check before the digest would.
 */
async function knownLeaves(
  source: ChunkSource,
  ahead: LeafHashesAhead | undefined,
  window: Buffer,
  start: number,
  end: number,
): Promise<KnownLeafHash | undefined> {
  const hashes = ahead?.hashes;
  if (hashes === undefined || start % LEAF_BYTES !== 0 || !hashes.has(start / LEAF_BYTES)) return undefined;
  await source.assertUnchanged();
  const wholeEnd = Math.min(end, source.size - (source.size % LEAF_BYTES));
  for (let at = start; at + LEAF_BYTES <= wholeEnd; at += LEAF_BYTES) {
    const hash = hashes.get(at / LEAF_BYTES);
    if (hash !== undefined) noteLeafHash(window.buffer, window.byteOffset + (at - start), Buffer.from(hash));
  }
  // For the matcher: whole leaves of this chunk's window, on a leaf boundary, hashed ahead.
  return (offset) =>
    offset % LEAF_BYTES === 0 &&
    offset >= start &&
    offset + LEAF_BYTES <= Math.min(source.size, start + window.length)
      ? copyOf(hashes.get(offset / LEAF_BYTES))
      : undefined;
}

/**
 * The leaf hashes `hashes` (`wholeLeaves`) of the chunk at `start` read into `window`: noted for the
 * chunk hash (leaf hints) and returned for the matcher. Taken over these very bytes, which stay as they are
 * until the chunk is sent or kept for later (its hints then forgotten), so no identity check is needed.
 */
function boundaryLeaves(
  window: Buffer,
  start: number,
  hashes: Buffer | undefined,
): KnownLeafHash | undefined {
  if (hashes === undefined) return undefined;
  const count = hashes.length / 32;
  for (let i = 0; i < count; i++)
    noteLeafHash(
      window.buffer,
      window.byteOffset + i * LEAF_BYTES,
      Buffer.from(hashes.subarray(32 * i, 32 * i + 32)),
    );
  return (offset) => {
    const i = (offset - start) / LEAF_BYTES;
    return Number.isInteger(i) && i >= 0 && i < count
      ? Buffer.from(hashes.subarray(32 * i, 32 * i + 32))
      : undefined;
  };
}

/** A hash the matcher may hand on as its own (a leaf hint's hash is kept by the chunk hasher). */
function copyOf(hash: Buffer | undefined): Buffer | undefined {
  return hash && Buffer.from(hash);
}
