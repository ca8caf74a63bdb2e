import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FerryError } from '../errors/index.js';
import { ChunkHashes, DEFAULT_CHUNK_BYTES, HASH_BYTES } from '../protocol/index.js';
import {
  PartialTransfer,
  SourceFile,
  hashChunks,
  partialOwner,
  type PartialPaths,
  type RootPath,
  siblingTempName,
} from '../transfer/index.js';
import type { ClientSession } from './client-session.js';

export interface DownloadOptions {
  chunkBytes?: number | undefined;
  /** Replace an existing local file (atomically). Without it an identical file is skipped, another refused. */
  overwrite?: boolean | undefined;
  /** Verified bytes batched per fsync of the local partial (PROTOCOL.md §9.2). */
  durableBatchBytes?: number | undefined;
  onStarted?: (info: { size: number; heldBytes: number }) => void;
  onVerified?: (verifiedBytes: number, size: number) => void;
}

export interface DownloadResult {
  readonly size: number;
  readonly digest: Buffer;
  /** File bytes received in this session. */
  readonly receivedBytes: number;
  /** Bytes already held from an interrupted attempt and kept. */
  readonly resumedBytes: number;
  /** True when the local file already had this content and was left untouched. */
  readonly identical: boolean;
}

/** A download whose request is sent; `done` settles when the file is verified and in place. */
export interface PendingDownload {
  readonly ref: number;
  readonly done: Promise<DownloadResult>;
}

/** Where a download's partial lives: hidden beside its destination, so the final rename stays on one disk. */
export function downloadPartialPaths(target: RootPath): PartialPaths {
  return {
    dataPath: join(target.dir, siblingTempName(target.name, 'ferry-part')),
    logPath: join(target.dir, siblingTempName(target.name, 'ferry-state')),
  };
}

/**
 * Sends the GET_REQUEST for one file (PROTOCOL.md §5.11) and returns at once; `done` then receives it.
 * What the client already holds is stated up front, so requests can be pipelined without a round trip
 * each: the verified chunks of an interrupted attempt, or, for an existing destination without
 * `overwrite`, the whole file (VERIFY_ONLY: identical means nothing to do).
 */
export async function beginDownload(
  session: ClientSession,
  remotePath: string,
  target: RootPath,
  options: DownloadOptions = {},
): Promise<PendingDownload> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const paths = downloadPartialPaths(target);
  const ref = session.openRef();
  // The chunks we hold and their hashes: the whole file when verifying, else what a partial of ours holds.
  let held: ChunkHashes | undefined;
  const verifyOnly = target.exists && !options.overwrite;
  // A server names the file, and so the partial's names: only a partial ferry made is reused or removed.
  const owner = await partialOwner(paths);
  if (owner === 'foreign' && !verifyOnly)
    throw new FerryError(
      'FILE_EXISTS',
      `${basename(paths.dataPath)} or ${basename(paths.logPath)} is in the way and was not made by ferry`,
    );
  if (verifyOnly) {
    held = await hashWholeFile(target.path, chunkBytes);
  } else {
    const partial = await PartialTransfer.inspect(paths);
    if (partial && partial.header.chunkBytes === chunkBytes && partial.held.length > 0)
      held = ChunkHashes.of(partial.header.size, chunkBytes, partial.held);
  }
  await session.send({
    type: 'GET_REQUEST',
    ref,
    chunkBytes,
    verifyOnly,
    heldSize: held?.size ?? 0,
    haveDigest: held?.haveDigest() ?? Buffer.alloc(HASH_BYTES),
    ranges: held?.knownRanges() ?? [],
    path: remotePath,
  });
  const ours = owner === 'ferry';
  const done = receiveDownload(
    session,
    ref,
    target,
    paths,
    chunkBytes,
    verifyOnly,
    held,
    ours,
    options,
  ).finally(() => session.closeRef(ref));
  done.catch(() => undefined);
  return { ref, done };
}

async function receiveDownload(
  session: ClientSession,
  ref: number,
  target: RootPath,
  paths: PartialPaths,
  chunkBytes: number,
  verifyOnly: boolean,
  held: ChunkHashes | undefined,
  partialIsOurs: boolean,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const offer = await session.expect(ref, 'GET_OFFER');
  // A held set is accepted only for a file of its size (PROTOCOL.md §5.11.2), so its lengths are this file's.
  const keep = offer.heldAccepted && held !== undefined ? held : undefined;
  const resumedBytes = keep?.knownBytes() ?? 0;
  options.onStarted?.({ size: offer.size, heldBytes: resumedBytes });
  if (verifyOnly) {
    // VERIFY_ONLY: the server found our file identical and sends only GET_END.
    const end = await session.expect(ref, 'GET_END');
    const ours = held!.digest();
    if (!end.fileDigest.equals(ours))
      throw new FerryError('DIGEST_MISMATCH', 'server digest differs from the identical file');
    // The file is complete: a partial of ours left beside it (an attempt killed while finishing) is of no
    // more use. The data goes first, so it is never left without the state that marks it as ferry's.
    if (partialIsOurs) {
      await rm(paths.dataPath, { force: true });
      await rm(paths.logPath, { force: true });
    }
    // Identical content is neither received nor resumed: 0, as for an identical upload.
    return { size: offer.size, digest: ours, receivedBytes: 0, resumedBytes: 0, identical: true };
  }
  const partial = await PartialTransfer.open({
    ...paths,
    // mtime 0: a download's partial is identified by size and chunk size; its content by the chunk hashes.
    size: offer.size,
    mtimeMs: 0,
    chunkBytes,
    fresh: !offer.heldAccepted,
    verified: keep ? [...keep.entries()] : [],
    durableBatchBytes: options.durableBatchBytes,
    markWithState: true,
    onDurable: (verified) => options.onVerified?.(verified, offer.size),
  });
  let receivedBytes = 0;
  try {
    for (;;) {
      const message = await session.take(ref);
      if (message.type === 'GET_DATA') {
        await partial.writeData(message.offset, message.data);
        receivedBytes += message.data.length;
      } else if (message.type === 'GET_CHUNK') {
        partial.completeChunk(message.index, message.chunkHash);
      } else if (message.type === 'GET_END') {
        const digest = await partial.finish(message.fileDigest, target, {
          mode: offer.mode,
          overwrite: options.overwrite ?? false,
          mtimeMs: offer.mtimeMs,
        });
        options.onVerified?.(offer.size, offer.size);
        return { size: offer.size, digest, receivedBytes, resumedBytes, identical: false };
      } else {
        throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} during a download`);
      }
    }
  } finally {
    await partial.close();
  }
}

async function hashWholeFile(path: string, chunkBytes: number): Promise<ChunkHashes> {
  const source = await SourceFile.open(path, { noFollow: true });
  try {
    const hashes = new ChunkHashes(source.size, chunkBytes);
    await hashChunks(source, hashes.allChunks(), hashes);
    return hashes;
  } finally {
    await source.close();
  }
}
