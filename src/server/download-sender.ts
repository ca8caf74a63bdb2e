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
import { SourceFile, hashChunks, missingChunks, resolveUnderRoot, streamChunks } from '../transfer/index.js';
import type { SessionIo } from './session-io.js';

/**
 * Serves one GET_REQUEST (PROTOCOL.md §5.11): checks the client's claimed chunks against the file, then
 * streams the rest and the file digest. The file is opened once, without following links, and checked for
 * changes before its digest is claimed. A STRIPED request (PROTOCOL.md §5.13.6) gets only its share of the
 * missing chunks.
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
    // PROTOCOL.md §5.13.6: the stripe applies from the size the client named on; below it, one stream.
    const { stripe } = request;
    const striped = stripe !== undefined && source.size >= stripe.minBytes;
    const ours = (index: number): boolean => !striped || index % stripe.count === stripe.index;
    await io.send({
      type: 'GET_OFFER',
      ref: request.ref,
      size: source.size,
      mtimeMs: source.mtimeMs,
      mode: source.mode,
      heldAccepted,
      ...(striped ? { striped } : {}),
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
      chunks: only(missingChunks(source.size, chunkBytes, held), ours),
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
    const joined = striped && stripe.index > 0;
    // The primary stripe (0) states the file digest and so hashes the chunks the others sent; a joined
    // stripe proves only its own (PROTOCOL.md §5.13.6), so the file is read twice at most, not per stream.
    if (striped && !joined)
      await hashChunks(
        source,
        only(missingChunks(source.size, chunkBytes, held), (i) => !ours(i)),
        hashes,
      );
    await source.assertUnchanged();
    let digest: Buffer;
    if (joined) {
      const mine = new ChunkSet(count);
      for (const index of only(missingChunks(source.size, chunkBytes, held), ours)) mine.add(index);
      digest = hashes.haveDigest(mine);
    } else {
      if (held.count === 0) await io.ctx.hashCache.rememberAll(source, target.path, hashes);
      digest = hashes.digest();
    }
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

function* only(chunks: Iterable<number>, keep: (index: number) => boolean): Generator<number> {
  for (const index of chunks) if (keep(index)) yield index;
}
