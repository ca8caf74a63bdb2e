import { FerryError } from '../errors/index.js';
import {
  ChunkHashes,
  ChunkSet,
  GET_DATA_HEADER_BYTES,
  MAX_TRANSFER_CHUNKS,
  PERMISSION_DOWNLOAD,
  chunkCount,
  writeGetDataHeader,
  type GetRequestMessage,
} from '../protocol/index.js';
import { SourceFile, missingChunks, resolveUnderRoot, streamChunks } from '../transfer/index.js';
import type { SessionIo } from './session-io.js';

/**
 * Serves one GET_REQUEST (PROTOCOL.md §5.11): checks the client's claimed chunks against the file, then
 * streams the rest and the file digest. The file is opened once, without following links, and checked for
 * changes before its digest is claimed.
 */
export async function sendDownload(io: SessionIo, request: GetRequestMessage): Promise<number> {
  io.require(PERMISSION_DOWNLOAD, 'download');
  const target = await resolveUnderRoot(io.ctx.root, io.rooted(request.path), { createDirs: false });
  if (!target.exists) throw new FerryError('PATH_NOT_FOUND');
  const source = await SourceFile.open(target.path, { noFollow: true });
  try {
    const { chunkBytes } = request;
    const count = chunkCount(source.size, chunkBytes);
    if (count > MAX_TRANSFER_CHUNKS)
      throw new FerryError('FILE_TOO_LARGE', `more than ${MAX_TRANSFER_CHUNKS} chunks; use larger chunks`);
    const hashes = new ChunkHashes(source.size, chunkBytes);
    let held = new ChunkSet(count);
    let heldAccepted = false;
    // An empty file has no chunks to claim: holding one is holding it all.
    if (request.heldSize === source.size && (request.ranges.length > 0 || count === 0)) {
      const claimed = ChunkSet.fromRanges(count, request.ranges);
      // From the server's cache where it can: a check sends no file data, so it must not cost a read of
      // the file each time it is asked (docs/SECURITY.md "Hashing on request").
      await io.ctx.hashCache.hashChunks(io.clientKey, source, target.path, claimed, hashes);
      heldAccepted = hashes.haveDigest(claimed).equals(request.haveDigest);
      if (heldAccepted) held = claimed;
    }
    if (request.verifyOnly && !(heldAccepted && held.count === count)) throw new FerryError('FILE_EXISTS');
    await io.send({
      type: 'GET_OFFER',
      ref: request.ref,
      size: source.size,
      mtimeMs: source.mtimeMs,
      mode: source.mode,
      heldAccepted,
    });
    let verifiedBytes = hashes.bytesOf(held);
    io.events.transferStarted(request.ref, {
      direction: 'download',
      path: request.path,
      size: source.size,
      heldBytes: verifiedBytes,
      restarted: false,
    });
    const sent = await streamChunks(source, {
      chunkBytes,
      chunks: missingChunks(source.size, chunkBytes, held),
      hashes,
      sink: {
        headerBytes: GET_DATA_HEADER_BYTES,
        writeDataHeader: (target, fileOffset) => writeGetDataHeader(target, 0, request.ref, fileOffset),
        sendData: (plaintext) => io.sendPlaintext(plaintext),
        sendChunk: async (index, chunkHash) => {
          await io.send({ type: 'GET_CHUNK', ref: request.ref, index, chunkHash });
          verifiedBytes += hashes.lengthOf(index);
          io.events.transferProgress(request.ref, verifiedBytes);
        },
      },
    });
    await source.assertUnchanged();
    if (held.count === 0) await io.ctx.hashCache.rememberAll(source, target.path, hashes);
    const digest = hashes.digest();
    await io.send({ type: 'GET_END', ref: request.ref, fileDigest: digest });
    io.events.transferFinished(request.ref, {
      digest,
      transferredBytes: sent,
      identical: request.verifyOnly,
    });
    return sent;
  } finally {
    await source.close();
  }
}
