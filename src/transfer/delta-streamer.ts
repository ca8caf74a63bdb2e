import { FerryError } from '../errors/index.js';
import {
  ChunkHasher,
  LEAF_BYTES,
  MAX_PUT_DATA_BYTES,
  chunkLength,
  deltaOpsWithin,
  forgetLeafHashes,
  noteLeafHash,
  type DeltaOp,
  type DeltaScan,
} from '../protocol/index.js';
import { boundaryLeaves } from './boundary-leaves.js';
import type { ChunkSource } from './chunk-source.js';
import { DeltaWindowReader, type WindowRead } from './delta-window-reader.js';
import { knownLeaves } from './known-leaves.js';
import { rootOfLeaves } from './root-of-leaves.js';
import type { StreamDeltaOptions } from './stream-delta-options.js';

export type { DeltaSink } from './delta-sink.js';
export type { ScanAhead } from './scan-ahead.js';
export type { StreamDeltaOptions } from './stream-delta-options.js';
export type { UploadSignatureArrival } from './upload-signature-arrival.js';

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
  /** Chunks scanned while the signature arrived that kept literal bytes, each with the carry it had. */
  const later: Array<{ chunk: number; carried: Carry | undefined }> = [];
  const whole = (): boolean => matcher.knownBlocks >= (arriving?.totalBlocks ?? 0);
  /**
   * Leaves hashed ahead whose bytes are known to be the version opened: hashed before the source's identity
   * was last checked unchanged (`sendInPlace`).
   */
  let checkedLeaves = 0;
  const windows = new DeltaWindowReader(source, options);
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
      leaves === undefined ? hasher.update(window.subarray(0, length)).digest() : rootOfLeaves(leaves);
    hashes.set(chunk, chunkHash);
    await sink.sendChunk(chunk, chunkHash);
    bytes += length;
    await options.onChunk?.(chunk, chunkHash, length);
  };
  let item = chunks.next();
  let reading = item.done ? undefined : windows.read(item.value);
  let scanning: WindowRead | undefined;
  try {
    while (reading !== undefined) {
      if (options.signal?.aborted) throw new FerryError('ABORTED');
      const chunk = reading.chunk;
      const carried = carry?.chunk === chunk ? carry : undefined;
      scanning = reading;
      // The next window is read (and hashed ahead) into the other buffer while this one is scanned and sent.
      item = chunks.next();
      reading = item.done ? undefined : windows.read(item.value);
      const leaves = await scanning.inPlace;
      if (leaves !== undefined && carried === undefined) {
        await sendInPlace(chunk, scanning.window, leaves);
        carry = undefined;
        continue;
      }
      // A match carried into a chunk found in place: it is read and scanned from the carry's end after all.
      if (leaves !== undefined) scanning = windows.read(chunk, { into: scanning.window });
      const { window, ops, next, scannedWhole } = await scanChunk(scanning, carried);
      const lastCopy = ops.findLast((op) => op.oldOffset >= 0);
      if (lastCopy !== undefined) windows.lastInPlace = lastCopy.oldOffset === lastCopy.newOffset;
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
    windows.failed = true;
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
    const { window, ops } = await scanChunk(windows.read(chunk, {}), carried);
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

/** A match running past a chunk's end, carried into the next chunk when that is the next one scanned. */
interface Carry {
  readonly chunk: number;
  readonly next: number;
  readonly ops: DeltaOp[];
}
