// PROTOCOL.md §5.4 EXISTING: what already stands at an upload's destination, as chunk hashes at the offer's
// chunk size, so the client can tell whether it is identical. One rule for a file under the root and for an
// object (issue 15); the receiver answers both with the same PUT_ACCEPT.
import { FerryError } from '../errors/index.js';
import { PERMISSION_DOWNLOAD, type ChunkHashes, type PutOfferMessage } from '../protocol/index.js';
import { SourceFile, hashAllChunks, type RootPath } from '../transfer/index.js';
import type { SessionIo } from './session-io.js';

/** Where the existing content stands: a file under the root, or an object of the server's store. */
export type ExistingAt = { readonly file: RootPath } | { readonly objectKey: string };

/**
 * The existing content's chunk hashes, or FILE_EXISTS when this client may not learn them: EXISTING (the
 * size, haveDigest) and IDENTICAL tell what the file holds, so only a client that may also download it
 * learns them, or the client whose own upload placed this very file (a retry after PUT_DONE was lost: by
 * the file's identity on disk, by the transfer id an object carries, written at completion by any server of
 * a cluster). Reading it is hashing on request (docs/SECURITY.md), paid from the client's budget. Hashes read
 * while the content changed never answer IDENTICAL (§5.6.1): a file is checked unchanged after, an object is
 * read with ranged GETs of the version opened (a change fails them: SOURCE_CHANGED).
 */
export async function existingHashes(
  io: SessionIo,
  offer: PutOfferMessage,
  at: ExistingAt,
  transferId: string,
): Promise<ChunkHashes> {
  if ('objectKey' in at) {
    const object = await io.objectStore!.openObject(at.objectKey);
    try {
      const mayLearn = io.may(PERMISSION_DOWNLOAD) || object.placedBy === transferId;
      if (!mayLearn || object.size !== offer.size) throw new FerryError('FILE_EXISTS');
      await io.ctx.hashCache.spend(io.clientKey, object.size, io.stopped);
      return await hashAllChunks(object, offer.chunkBytes);
    } finally {
      await object.close();
    }
  }
  const source = await SourceFile.open(at.file.path, { noFollow: true, rooted: true });
  try {
    const mayLearn = io.may(PERMISSION_DOWNLOAD) || io.ctx.registry.placedIt(transferId, source.identity);
    if (!mayLearn || source.size !== offer.size) throw new FerryError('FILE_EXISTS');
    const hashes = await hashAllChunks(source, offer.chunkBytes, (chunks, into) =>
      io.ctx.hashCache.hashChunks(io.clientKey, source, at.file.path, chunks, into, io.stopped),
    );
    await source.assertUnchanged();
    return hashes;
  } finally {
    await source.close();
  }
}
