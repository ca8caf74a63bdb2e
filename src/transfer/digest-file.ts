import { FerryError } from '../errors/index.js';
import { DEFAULT_CHUNK_BYTES, FileDigestBuilder, chunkCount } from '../protocol/index.js';
import { HASH_READ_BYTES, SourceFile } from './source-file.js';

/**
 * The file digest (PROTOCOL.md §7.2) of a local file: what `ferry digest` prints, and what a PUT_DONE or
 * GET_END carries for the same content whatever chunk size the transfer used, since the digest is defined
 * over fixed leaves. One pass; a stack of hashes, no table of chunk hashes, is held.
 */
export async function digestFile(
  path: string,
  options: { signal?: AbortSignal | undefined; rooted?: boolean } = {},
): Promise<Buffer> {
  // Any chunk size gives the same digest; this one only sets how much is read per chunk hash.
  const chunkBytes = DEFAULT_CHUNK_BYTES;
  // `rooted` (`path` a real root joined with checked names): neither a link at the name nor one on the way
  // swapped in since, as every read under a root (SourceFile.open).
  const source = await SourceFile.open(path, options.rooted ? { noFollow: true, rooted: true } : {});
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
