import { FerryError } from '../errors/index.js';
import { DEFAULT_CHUNK_BYTES, FileDigestBuilder, chunkCount } from '../protocol/index.js';
import { HASH_READ_BYTES, SourceFile } from './source-file.js';

/**
 * The file digest (PROTOCOL.md §7.2) of a local file cut into chunks of `chunkBytes`: what `ferry digest`
 * prints, and what a PUT_DONE or GET_END carries for the same content and chunk size, so a file can be
 * compared out of band. One pass, one running hash: no table of chunk hashes is held.
 */
export async function digestFile(
  path: string,
  options: { chunkBytes?: number; signal?: AbortSignal } = {},
): Promise<Buffer> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const source = await SourceFile.open(path);
  try {
    const builder = new FileDigestBuilder(source.size, chunkBytes);
    const scratch = Buffer.allocUnsafe(Math.min(chunkBytes, HASH_READ_BYTES));
    for (let index = 0; index < chunkCount(source.size, chunkBytes); index++) {
      if (options.signal?.aborted) throw new FerryError('ABORTED');
      builder.addChunkHash(await source.chunkHash(index, chunkBytes, scratch));
    }
    return builder.digest();
  } finally {
    await source.close();
  }
}
