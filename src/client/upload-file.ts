import { FerryError } from '../errors/index.js';
import {
  ChunkSet,
  DEFAULT_CHUNK_BYTES,
  FileDigestBuilder,
  HASH_BYTES,
  chunkCount,
  chunkLength,
  haveDigest,
  writePutDataHeader,
} from '../protocol/index.js';
import { ChunkHashCache, SourceFile, hashHeldChunks, streamChunks } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';

export interface UploadOptions {
  /** Chunk size (PROTOCOL.md §5.3); defaults to 4 MiB. */
  chunkBytes?: number;
  overwrite?: boolean;
  signal?: AbortSignal | undefined;
  /** Called when the server reports more verified, durable bytes (PROTOCOL.md §5.7). */
  onVerified?: (verifiedBytes: number, size: number) => void;
  /** Called once the server answered the offer: how much it already held, and whether it restarted. */
  onAccepted?: (info: { heldBytes: number; restarted: boolean; size: number }) => void;
  /** Directory for the chunk-hash cache that spares a resume from re-reading what the server holds. */
  cacheDir?: string | undefined;
}

export interface UploadResult {
  readonly size: number;
  /** The file digest (PROTOCOL.md §7.2) that the server verified. */
  readonly digest: Buffer;
  /** File bytes sent in this session (excludes chunks the server already held). */
  readonly sentBytes: number;
  /** Bytes the server already held verified when this session started. */
  readonly resumedBytes: number;
  /** True when the server's partial did not match this source and the transfer started over. */
  readonly restarted: boolean;
}

/**
 * Uploads one local file to `remotePath` over an open session: offer, resume what the server proves it
 * holds, stream the missing chunks, and return only once the server verified and stored the file.
 */
export async function uploadFile(
  session: ClientSession,
  localPath: string,
  remotePath: string,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const source = await SourceFile.open(localPath);
  const cache = options.cacheDir ? await ChunkHashCache.open(options.cacheDir, localPath, source, chunkBytes) : undefined;
  let complete = false;
  try {
    const count = chunkCount(source.size, chunkBytes);
    const hashes = Buffer.alloc(count * HASH_BYTES);
    let { ref, held, heldDigest, restarted } = await offer(session, source, remotePath, chunkBytes, options, false);
    if (held.count > 0) {
      // PROTOCOL.md §5.4: the server's claim must match our own bytes, chunk for chunk.
      const ours = await hashHeldChunks(source, held, chunkBytes, hashes, (i) => cache?.get(i));
      if (!haveDigest(ours).equals(heldDigest)) {
        ({ ref, held, heldDigest } = await offer(session, source, remotePath, chunkBytes, options, true));
        restarted = true;
      }
    }
    let resumedBytes = 0;
    for (const index of held) resumedBytes += chunkLength(index, source.size, chunkBytes);
    options.onAccepted?.({ heldBytes: resumedBytes, restarted, size: source.size });
    session.onProgress(ref, (verified) => options.onVerified?.(verified, source.size));

    const sentBytes = await streamChunks(source, {
      chunkBytes,
      skip: held,
      hashes,
      signal: options.signal,
      sink: {
        writeDataHeader: (target, fileOffset) => writePutDataHeader(target, 0, ref, fileOffset),
        sendData: (plaintext) => session.channel.sendPlaintext(plaintext),
        sendChunk: (index, chunkHash) => session.send({ type: 'PUT_CHUNK', ref, index, chunkHash }),
      },
      onChunk: (index, hash) => cache?.record({ index, hash }),
    });
    await source.assertUnchanged();
    const builder = new FileDigestBuilder(source.size, chunkBytes);
    for (let index = 0; index < count; index++) builder.addChunkHash(hashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES));
    const digest = builder.digest();
    await session.send({ type: 'PUT_END', ref, fileDigest: digest });
    const reply = await session.expect(ref, 'PUT_DONE');
    // PROTOCOL.md §5.6: success only when the server confirms the very digest we computed.
    if (!reply.fileDigest.equals(digest)) throw new FerryError('DIGEST_MISMATCH', 'server confirmed another digest');
    options.onVerified?.(source.size, source.size);
    complete = true;
    return { size: source.size, digest, sentBytes, resumedBytes, restarted };
  } finally {
    await source.close();
    if (complete) await cache?.remove();
    else await cache?.close();
  }
}

async function offer(
  session: ClientSession,
  source: SourceFile,
  path: string,
  chunkBytes: number,
  options: UploadOptions,
  fresh: boolean,
): Promise<{ ref: number; held: ChunkSet; heldDigest: Buffer; restarted: boolean }> {
  const ref = session.openRef();
  await session.send({
    type: 'PUT_OFFER',
    ref,
    size: source.size,
    mtimeMs: source.mtimeMs,
    chunkBytes,
    mode: source.mode,
    overwrite: options.overwrite ?? false,
    fresh,
    path,
  });
  const accept = await session.expect(ref, 'PUT_ACCEPT');
  const held = ChunkSet.fromRanges(chunkCount(source.size, chunkBytes), accept.ranges);
  return { ref, held, heldDigest: accept.haveDigest, restarted: accept.restarted };
}
