import { DEFAULT_CHUNK_BYTES, chunkBytesFor } from '../protocol/index.js';
import { UploadSenderMachine } from '../machines/index.js';
import { ChunkHashCache, SourceFile } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import type { PendingUpload, UploadResult } from './pending-upload.js';
import { deltaWanted } from './upload-delta-wanted.js';
import { UploadDriver } from './upload-driver.js';
import type { UploadOptions } from './upload-options.js';

export type { PendingUpload, UploadResult } from './pending-upload.js';
export { PARALLEL_MIN_BYTES, type UploadOptions } from './upload-options.js';

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
 * chunks the server already holds and send only the rest. The rules are UploadSenderMachine's; this is its
 * driver.
 */
export async function beginUpload(
  session: ClientSession,
  localPath: string,
  remotePath: string,
  options: UploadOptions = {},
): Promise<PendingUpload> {
  const source = await SourceFile.open(localPath, { walked: options.walked });
  const chunkBytes = chunkBytesFor(source.size, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  try {
    // Only a file the server may hold part of (more than one chunk: not pipelined) is worth a cache.
    const cache =
      options.cacheDir && source.size > chunkBytes
        ? await ChunkHashCache.open(options.cacheDir, localPath, source, chunkBytes)
        : undefined;
    const machine = new UploadSenderMachine(source.size, chunkBytes, {
      answerFirst: deltaWanted(source.size, options, undefined),
    });
    return await new UploadDriver(session, machine, { source, remotePath, options, cache }).begin();
  } finally {
    await source.close();
  }
}
