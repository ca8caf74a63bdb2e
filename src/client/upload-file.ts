import { FerryError } from '../errors/index.js';
import {
  ChunkSet,
  DEFAULT_CHUNK_BYTES,
  FileDigestBuilder,
  HASH_BYTES,
  MAX_MESSAGE_BYTES,
  PUT_DATA_HEADER_BYTES,
  chunkCount,
  chunkLength,
  haveDigest,
  writePutDataHeader,
} from '../protocol/index.js';
import { SourceFile } from '../transfer/index.js';
import { createHash } from 'node:crypto';
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
  try {
    const count = chunkCount(source.size, chunkBytes);
    const hashes = Buffer.alloc(count * HASH_BYTES);
    let { ref, held, heldDigest, restarted } = await offer(session, source, remotePath, chunkBytes, options, false);
    if (held.count > 0) {
      // PROTOCOL.md §5.4: the server's claim must match our own bytes, chunk for chunk.
      const scratch = Buffer.allocUnsafe(Math.min(chunkBytes, 1024 * 1024));
      const ours: Buffer[] = [];
      for (const index of held) {
        throwIfAborted(options.signal);
        const hash = await source.chunkHash(index, chunkBytes, scratch);
        hash.copy(hashes, index * HASH_BYTES);
        ours.push(hash);
      }
      if (!haveDigest(ours).equals(heldDigest)) {
        ({ ref, held, heldDigest } = await offer(session, source, remotePath, chunkBytes, options, true));
        restarted = true;
      }
    }
    let resumedBytes = 0;
    for (const index of held) resumedBytes += chunkLength(index, source.size, chunkBytes);
    options.onAccepted?.({ heldBytes: resumedBytes, restarted, size: source.size });
    session.onProgress(ref, (verified) => options.onVerified?.(verified, source.size));

    const plaintext = Buffer.allocUnsafe(MAX_MESSAGE_BYTES);
    const maxData = MAX_MESSAGE_BYTES - PUT_DATA_HEADER_BYTES;
    let sentBytes = 0;
    for (let index = 0; index < count; index++) {
      if (held.has(index)) continue;
      throwIfAborted(options.signal);
      const start = index * chunkBytes;
      const end = start + chunkLength(index, source.size, chunkBytes);
      const hasher = createHash('sha256');
      for (let offset = start; offset < end; ) {
        const length = Math.min(maxData, end - offset);
        const headerBytes = writePutDataHeader(plaintext, 0, ref, offset);
        await source.readExactly(plaintext, headerBytes, length, offset);
        const message = plaintext.subarray(0, headerBytes + length);
        hasher.update(message.subarray(headerBytes));
        await session.channel.sendPlaintext(message);
        offset += length;
        sentBytes += length;
      }
      const chunkHash = hasher.digest();
      chunkHash.copy(hashes, index * HASH_BYTES);
      await session.send({ type: 'PUT_CHUNK', ref, index, chunkHash });
    }
    await source.assertUnchanged();
    const builder = new FileDigestBuilder(source.size, chunkBytes);
    for (let index = 0; index < count; index++) builder.addChunkHash(hashes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES));
    const digest = builder.digest();
    const done = session.expect(ref, 'PUT_DONE');
    await session.send({ type: 'PUT_END', ref, fileDigest: digest });
    const reply = await done;
    // PROTOCOL.md §5.6: success only when the server confirms the very digest we computed.
    if (!reply.fileDigest.equals(digest)) throw new FerryError('DIGEST_MISMATCH', 'server confirmed another digest');
    options.onVerified?.(source.size, source.size);
    return { size: source.size, digest, sentBytes, resumedBytes, restarted };
  } finally {
    await source.close();
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
  const ref = session.nextRef();
  const accepted = session.expect(ref, 'PUT_ACCEPT');
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
  const accept = await accepted;
  const held = ChunkSet.fromRanges(chunkCount(source.size, chunkBytes), accept.ranges);
  return { ref, held, heldDigest: accept.haveDigest, restarted: accept.restarted };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FerryError('ABORTED');
}
