import { FerryError, isFerryError } from '../errors/index.js';
import {
  ChunkHashes,
  ChunkSet,
  DEFAULT_CHUNK_BYTES,
  HASH_BYTES,
  PUT_DATA_HEADER_BYTES,
  chunkBytesFor,
  errorMessageFor,
  writePutDataHeader,
} from '../protocol/index.js';
import { ChunkHashCache, SourceFile, hashChunks, missingChunks, streamChunks } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';

export interface UploadOptions {
  /** Chunk size (PROTOCOL.md §5.3); defaults to 4 MiB. */
  chunkBytes?: number | undefined;
  overwrite?: boolean | undefined;
  signal?: AbortSignal | undefined;
  /** Called when the server reports more verified, durable bytes (PROTOCOL.md §5.7). */
  onVerified?: (verifiedBytes: number, size: number) => void;
  /** Called once the server answered the offer: how much it already held, and whether it restarted. */
  onAccepted?: (info: { heldBytes: number; restarted: boolean; size: number }) => void;
  /** Directory for the chunk-hash cache that spares a resume from re-reading what the server holds. */
  cacheDir?: string | undefined;
  /**
   * Opens (once) further sessions to the same server that carry chunks of large files in parallel
   * (PROTOCOL.md §5.13); called only for a file with at least two chunks to send.
   */
  extraStreams?: (() => Promise<readonly ClientSession[]>) | undefined;
  /** Files smaller than this use one stream; default PARALLEL_MIN_BYTES. */
  parallelMinBytes?: number | undefined;
}

/**
 * Files from this size on travel over the extra streams: below it a single connection finishes before
 * more connections would have paid for their handshakes.
 */
export const PARALLEL_MIN_BYTES = 64 * 1024 * 1024;

export interface UploadResult {
  readonly size: number;
  /** The file digest (PROTOCOL.md §7.2) that the server verified. */
  readonly digest: Buffer;
  /** File bytes sent in this session (excludes chunks the server already held). */
  readonly sentBytes: number;
  /** Bytes the server already held verified when this session started (0 for an identical file). */
  readonly resumedBytes: number;
  /** True when the server's partial did not match this source and the transfer started over. */
  readonly restarted: boolean;
  /** True when the destination already held identical content and was left untouched. */
  readonly identical: boolean;
}

/** An upload whose bytes are all sent; `done` settles when the server confirms (or refuses) it. */
export interface PendingUpload {
  readonly ref: number;
  readonly done: Promise<UploadResult>;
}

/**
 * Uploads one local file to `remotePath` and waits until the server verified and stored it.
 */
export async function uploadFile(
  session: ClientSession,
  localPath: string,
  remotePath: string,
  options: UploadOptions = {},
): Promise<UploadResult> {
  return (await beginUpload(session, localPath, remotePath, options)).done;
}

/**
 * Sends one file up to its PUT_END and returns without waiting for PUT_DONE, so the caller may offer the
 * next file at once (PROTOCOL.md §5.8). Files of at most one chunk are pipelined completely: their data
 * follows the offer without waiting for PUT_ACCEPT. Larger files wait for PUT_ACCEPT to learn which
 * chunks the server already holds and send only the rest.
 */
export async function beginUpload(
  session: ClientSession,
  localPath: string,
  remotePath: string,
  options: UploadOptions = {},
): Promise<PendingUpload> {
  const source = await SourceFile.open(localPath);
  const chunkBytes = chunkBytesFor(source.size, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  try {
    if (source.size <= chunkBytes)
      return await beginPipelined(session, source, remotePath, chunkBytes, options);
    return await beginResumable(session, source, localPath, remotePath, chunkBytes, options);
  } finally {
    await source.close();
  }
}

async function beginPipelined(
  session: ClientSession,
  source: SourceFile,
  remotePath: string,
  chunkBytes: number,
  options: UploadOptions,
): Promise<PendingUpload> {
  const ref = sendOffer(session, source, remotePath, chunkBytes, options, false);
  const hashes = new ChunkHashes(source.size, chunkBytes);
  let sentBytes: number;
  let digest: Buffer;
  try {
    sentBytes = await streamChunks(source, {
      chunkBytes,
      chunks: missingChunks(source.size, chunkBytes, new ChunkSet(hashes.count)),
      hashes,
      signal: options.signal,
      sink: dataSink(session, ref),
    });
    digest = await endUpload(session, ref, source, hashes);
  } catch (err) {
    await reportSourceChanged(session, ref, err);
    throw err;
  }
  const done = (async (): Promise<UploadResult> => {
    try {
      const accept = await session.expect(ref, 'PUT_ACCEPT');
      options.onAccepted?.({ heldBytes: 0, restarted: accept.restarted, size: source.size });
      // An EXISTING answer is settled by the digest on the server: identical or FILE_EXISTS (§5.8).
      return await confirmed(
        session,
        ref,
        digest,
        { size: source.size, sentBytes, resumedBytes: 0, restarted: false },
        options,
      );
    } finally {
      session.closeRef(ref);
    }
  })();
  return { ref, done: quiet(done) };
}

async function beginResumable(
  session: ClientSession,
  source: SourceFile,
  localPath: string,
  remotePath: string,
  chunkBytes: number,
  options: UploadOptions,
): Promise<PendingUpload> {
  const cache = options.cacheDir
    ? await ChunkHashCache.open(options.cacheDir, localPath, source, chunkBytes)
    : undefined;
  const hashes = new ChunkHashes(source.size, chunkBytes);
  const { count } = hashes;
  let ref = sendOffer(session, source, remotePath, chunkBytes, options, false);
  let pending = false;
  try {
    let accept = await session.expect(ref, 'PUT_ACCEPT');
    let held = ChunkSet.fromRanges(count, accept.ranges);
    let restarted = accept.restarted;
    if (held.count > 0) {
      // PROTOCOL.md §5.4: the server's claim must match our own bytes, chunk for chunk.
      await hashChunks(source, held, hashes, (i) => cache?.get(i));
      const same = hashes.haveDigest(held).equals(accept.haveDigest);
      if (accept.existing) {
        pending = true; // settleExisting owns the ref from here
        await cache?.close();
        return await settleExisting(session, ref, source, hashes, same, options);
      }
      if (!same) {
        // End the first offer before the FRESH one: one transfer receives at a time (PROTOCOL.md §6.2).
        session.closeRef(ref);
        await session.send({ type: 'CANCEL', ref });
        ref = sendOffer(session, source, remotePath, chunkBytes, options, true);
        accept = await session.expect(ref, 'PUT_ACCEPT');
        held = ChunkSet.fromRanges(count, accept.ranges);
        restarted = true;
      }
    } else if (accept.existing) {
      pending = true;
      await cache?.close();
      return await settleExisting(session, ref, source, hashes, count === 0, options);
    }
    const resumedBytes = hashes.bytesOf(held);
    options.onAccepted?.({ heldBytes: resumedBytes, restarted, size: source.size });
    const size = source.size;
    session.onProgress(ref, (verified) => options.onVerified?.(verified, size));
    // One cursor over the missing chunks, shared by the primary and any joined streams (PROTOCOL.md §5.13).
    const missing = missingChunks(source.size, chunkBytes, held);
    const onChunk = (index: number, hash: Buffer): Promise<void> | undefined =>
      cache?.record({ index, hash });
    const parallel =
      count - held.count >= 2 && source.size >= (options.parallelMinBytes ?? PARALLEL_MIN_BYTES);
    const streams = parallel && options.extraStreams ? await options.extraStreams() : [];
    const primaryRef = ref;
    const counts = await Promise.all([
      streamChunks(source, {
        chunkBytes,
        chunks: missing,
        hashes,
        signal: options.signal,
        sink: dataSink(session, primaryRef),
        onChunk,
      }),
      ...streams.map((extra) =>
        sendOnJoinedStream(extra, source, remotePath, chunkBytes, missing, hashes, onChunk, options),
      ),
    ]);
    const sentBytes = counts.reduce((sum, n) => sum + n, 0);
    const digest = await endUpload(session, ref, source, hashes);
    const finalRef = ref;
    pending = true;
    const done = (async (): Promise<UploadResult> => {
      try {
        const result = await confirmed(
          session,
          finalRef,
          digest,
          { size, sentBytes, resumedBytes, restarted },
          options,
        );
        await cache?.remove();
        return result;
      } finally {
        await cache?.close();
        session.closeRef(finalRef);
      }
    })();
    return { ref, done: quiet(done) };
  } catch (err) {
    await reportSourceChanged(session, ref, err);
    throw err;
  } finally {
    if (!pending) {
      await cache?.close();
      session.closeRef(ref);
    }
  }
}

/**
 * One joined stream (PROTOCOL.md §5.13): attach to the transfer the primary session holds, send the chunks
 * taken from the shared cursor, then close the part and wait until the server has verified it, so the
 * primary's PUT_END never overtakes a chunk still in flight on this connection.
 */
async function sendOnJoinedStream(
  session: ClientSession,
  source: SourceFile,
  remotePath: string,
  chunkBytes: number,
  chunks: Iterator<number>,
  hashes: ChunkHashes,
  onChunk: (index: number, hash: Buffer) => Promise<void> | undefined,
  options: UploadOptions,
): Promise<number> {
  const ref = sendOffer(session, source, remotePath, chunkBytes, options, false, true);
  try {
    await session.expect(ref, 'PUT_ACCEPT');
    const sent = await streamChunks(source, {
      chunkBytes,
      chunks,
      hashes,
      signal: options.signal,
      sink: dataSink(session, ref),
      onChunk,
    });
    await session.send({ type: 'PUT_END', ref, fileDigest: Buffer.alloc(HASH_BYTES) });
    const done = await session.expect(ref, 'PUT_DONE');
    if (!done.part) throw new FerryError('MESSAGE_UNEXPECTED', 'a joined stream ended without PART');
    return sent;
  } catch (err) {
    await reportSourceChanged(session, ref, err);
    throw err;
  } finally {
    session.closeRef(ref);
  }
}

/** PROTOCOL.md §5.4 EXISTING: identical content ends the transfer at once; anything else is FILE_EXISTS. */
async function settleExisting(
  session: ClientSession,
  ref: number,
  source: SourceFile,
  hashes: ChunkHashes,
  same: boolean,
  options: UploadOptions,
): Promise<PendingUpload> {
  if (!same) {
    session.closeRef(ref);
    await session.send({ type: 'CANCEL', ref });
    throw new FerryError('FILE_EXISTS');
  }
  const digest = await endUpload(session, ref, source, hashes);
  const done = confirmed(
    session,
    ref,
    digest,
    // Identical content is neither sent nor resumed: 0 here, as for a pipelined identical file.
    { size: source.size, sentBytes: 0, resumedBytes: 0, restarted: false },
    options,
  );
  return { ref, done: quiet(done.finally(() => session.closeRef(ref))) };
}

function sendOffer(
  session: ClientSession,
  source: SourceFile,
  path: string,
  chunkBytes: number,
  options: UploadOptions,
  fresh: boolean,
  join = false,
): number {
  const ref = session.openRef();
  // Not awaited on purpose: the socket keeps order, and backpressure is applied by the data that follows.
  void session
    .send({
      type: 'PUT_OFFER',
      ref,
      size: source.size,
      mtimeMs: source.mtimeMs,
      chunkBytes,
      mode: source.mode,
      overwrite: join ? false : (options.overwrite ?? false),
      fresh,
      ...(join ? { join } : {}),
      path,
    })
    .catch(() => undefined);
  return ref;
}

function dataSink(session: ClientSession, ref: number): Parameters<typeof streamChunks>[1]['sink'] {
  return {
    headerBytes: PUT_DATA_HEADER_BYTES,
    writeDataHeader: (target, fileOffset) => writePutDataHeader(target, 0, ref, fileOffset),
    sendData: (plaintext) => session.channel.sendPlaintext(plaintext),
    sendChunk: (index, chunkHash) => session.send({ type: 'PUT_CHUNK', ref, index, chunkHash }),
  };
}

/**
 * PROTOCOL.md §5.6.1: an upload whose source changed under us ends with ERROR SOURCE_CHANGED for its ref
 * instead of PUT_END, so the server closes the transfer and reports why rather than waiting on it.
 */
async function reportSourceChanged(session: ClientSession, ref: number, err: unknown): Promise<void> {
  if (!isFerryError(err, 'SOURCE_CHANGED') || err.remote || err.wireCode === null) return;
  await session.send(errorMessageFor(ref, err)).catch(() => undefined);
}

/** Checks the source did not change, then sends PUT_END with the file digest (PROTOCOL.md §5.6). */
async function endUpload(
  session: ClientSession,
  ref: number,
  source: SourceFile,
  hashes: ChunkHashes,
): Promise<Buffer> {
  await source.assertUnchanged();
  const digest = hashes.digest();
  await session.send({ type: 'PUT_END', ref, fileDigest: digest });
  return digest;
}

/** Waits for PUT_DONE and checks it confirms our digest (PROTOCOL.md §5.6). */
async function confirmed(
  session: ClientSession,
  ref: number,
  digest: Buffer,
  facts: { size: number; sentBytes: number; resumedBytes: number; restarted: boolean },
  options: UploadOptions,
): Promise<UploadResult> {
  const reply = await session.expect(ref, 'PUT_DONE');
  if (!reply.fileDigest.equals(digest))
    throw new FerryError('DIGEST_MISMATCH', 'server confirmed another digest');
  // An identical file was left untouched: nothing was verified in this run, so no progress to report.
  if (!reply.identical) options.onVerified?.(facts.size, facts.size);
  return { ...facts, digest, identical: reply.identical };
}

/** Marks a promise handled so a caller that fails before awaiting it causes no unhandled rejection. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}
