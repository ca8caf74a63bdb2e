import { rm } from 'node:fs/promises';
import { FerryError, toFerryError } from '../errors/index.js';
import {
  ChunkHashes,
  HASH_BYTES,
  chunkBytesFor,
  type BytePiece,
  type GetOfferMessage,
  type GetStripe,
} from '../protocol/index.js';
import {
  PartialTransfer,
  SourceFile,
  hashAllChunks,
  type PartialPaths,
  type RootPath,
} from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { PatchWriter, type FoundBlocks } from './delta-blocks-download.js';
import type { Patch } from './old-file-scans.js';
import { downloadPartialsFrom } from './download-partials.js';
import { checkOfferFits } from './offer-fits.js';
import type { DownloadOptions, DownloadResult } from './download-file.js';

/** What `receiveDownload` needs beyond the request's own facts. */
export interface ReceiveContext {
  readonly remotePath: string;
  readonly stripe: GetStripe | undefined;
  readonly answered: { ref: number; complete: boolean };
  /** Of the held chunks, the bytes a delta took from the old file this attempt. */
  readonly reusedBytes: number;
  /** A PATCHED answer's pieces and the bytes around them (PROTOCOL.md §5.17.4). */
  readonly patch?: Patch | undefined;
  /**
   * A delta's partial, still open from its scan and holding exactly the held set claimed: received into
   * as it is (not closed and opened again) when the offer accepts that claim; otherwise closed first.
   */
  readonly open?: PartialTransfer | undefined;
}

export async function receiveDownload(
  session: ClientSession,
  ref: number,
  offer: GetOfferMessage,
  target: RootPath,
  paths: PartialPaths,
  chunkBytes: number,
  verifyOnly: boolean,
  held: ChunkHashes | undefined,
  partialIsOurs: boolean,
  options: DownloadOptions,
  context: ReceiveContext,
): Promise<DownloadResult> {
  const { remotePath, stripe, answered } = context;
  // A held set is accepted only for a file of its size (PROTOCOL.md §5.11.2): a server accepting it for
  // another size would have the client count chunks of the wrong lengths as held, so it is refused.
  if (offer.heldAccepted && held !== undefined && held.size !== offer.size)
    throw new FerryError(
      'MESSAGE_MALFORMED',
      `GET_OFFER accepted a held set of ${held.size} bytes for a file of ${offer.size} bytes`,
    );
  const keep = offer.heldAccepted && held !== undefined ? held : undefined;
  const heldBytes = keep?.knownBytes() ?? 0;
  const reusedBytes = keep ? context.reusedBytes : 0;
  const resumedBytes = heldBytes - reusedBytes;
  options.onStarted?.({ size: offer.size, heldBytes, reusedBytes });
  if (verifyOnly) {
    // VERIFY_ONLY (PROTOCOL.md §5.11.1): the server offers its size, then its digest and no chunk; the
    // comparison is ours alone, and nothing about it goes back.
    if (offer.heldAccepted || offer.striped)
      throw new FerryError(
        'MESSAGE_MALFORMED',
        'a GET_OFFER answering VERIFY_ONLY accepted a held set or a stripe',
      );
    // Any chunk size gives the same digest (§7.2); the size is compared first, so a differing file of
    // another size is not read at all, and its digest not waited for: the size a server offers buys it
    // time to hash (`progress-watchdog.ts`), and an offer of another size than ours needs none. The ref is
    // then over for us without a CANCEL (`answered.complete`): the GET_END still to come is dropped unread.
    // Where the destination was resolved only (`rooted`), as a delta's scan opens the old file.
    const local = await SourceFile.open(target.path, { noFollow: true, rooted: true });
    let ours: Buffer | undefined;
    let end: { fileDigest: Buffer } | undefined;
    try {
      if (local.size === offer.size) {
        end = await session.expect(ref, 'GET_END');
        ours = (await hashAllChunks(local, chunkBytesFor(local.size, chunkBytes))).digest();
      }
    } finally {
      answered.complete = true;
      await local.close();
    }
    if (end === undefined || !ours?.equals(end.fileDigest))
      throw new FerryError('FILE_EXISTS', 'a different file is in the way');
    // The file is complete: a partial of ours left beside it (an attempt killed while finishing) is of no
    // more use. The data goes first, so it is never left without the state that marks it as ferry's.
    if (partialIsOurs) {
      await rm(paths.dataPath, { force: true });
      await rm(paths.logPath, { force: true });
    }
    // Identical content is neither received nor resumed: 0, as for an identical upload.
    return {
      size: offer.size,
      digest: ours,
      receivedBytes: 0,
      resumedBytes: 0,
      reusedBytes: 0,
      identical: true,
    };
  }
  await checkOfferFits(offer, { chunkBytes, dir: target.dir, heldBytes });
  const partial =
    context.open ??
    (await PartialTransfer.open(downloadPartialsFrom(session.serverPublicKey), target, {
      // mtime 0: a download's partial is identified by size and chunk size; its content by the chunk hashes.
      size: offer.size,
      mtimeMs: 0,
      chunkBytes,
      fresh: !offer.heldAccepted,
      verified: keep ? [...keep.entries()] : [],
      durableBatchBytes: options.durableBatchBytes,
      // A stripe's GET_END names the digest over the chunks it sent (PROTOCOL.md §5.13.6).
      checkPartDigests: true,
      knownLeafHashes: options.knownLeafHashes && { store: options.knownLeafHashes, place: target.path },
      onDurable: (verified) => options.onVerified?.(verified, offer.size),
    }));
  const joined: Array<Promise<number>> = [];
  let extras: readonly ClientSession[] = [];
  try {
    if (offer.striped) {
      if (!stripe)
        throw new FerryError('MESSAGE_UNEXPECTED', 'a striped GET_OFFER for a request without a stripe');
      // PROTOCOL.md §5.13.6: the other stripes are asked for on the joined sessions, with the held claim
      // the primary's server accepted (or none), and must be offered the same file.
      extras = options.extraStreams ? await options.extraStreams() : [];
      if (extras.length !== stripe.count - 1)
        throw new FerryError('CONNECT_FAILED', `${extras.length + 1} of ${stripe.count} streams opened`);
      const claim = offer.heldAccepted ? held : undefined;
      extras.forEach((extra, i) => {
        const stripeDone = receiveStripe(
          extra,
          remotePath,
          chunkBytes,
          claim,
          { ...stripe, index: i + 1 },
          offer,
          partial,
        );
        // A failed stripe fails the attempt at once: the primary stops too, and the retry resumes (§5.13.5).
        stripeDone.catch((err: unknown) => session.close(toFerryError(err)));
        joined.push(stripeDone);
      });
    }
    const primary = await receiveChunks(session, ref, partial, context.patch?.found);
    // Every stripe verified and written before the whole file is checked; one failure fails the attempt.
    const settled = await Promise.allSettled(joined);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw toFerryError(failed.reason);
    const receivedBytes = settled.reduce(
      (sum, r) => sum + (r.status === 'fulfilled' ? r.value : 0),
      primary.bytes,
    );
    const digest = await partial.finish(primary.endDigest, target, {
      mode: offer.mode,
      overwrite: options.overwrite ?? false,
      mtimeMs: offer.mtimeMs,
    });
    options.onVerified?.(offer.size, offer.size);
    return { size: offer.size, digest, receivedBytes, resumedBytes, reusedBytes, identical: false };
  } catch (err) {
    // The attempt is over: the joined sessions stop too, so no stripe writes after the partial is closed.
    const error = toFerryError(err);
    for (const extra of extras) extra.close(error);
    await Promise.allSettled(joined);
    throw error;
  } finally {
    await partial.close();
  }
}

export async function sendRequest(
  session: ClientSession,
  ref: number,
  remotePath: string,
  chunkBytes: number,
  verifyOnly: boolean,
  held: ChunkHashes | undefined,
  stripe: GetStripe | undefined,
  patch?: BytePiece[],
): Promise<void> {
  await session.send({
    type: 'GET_REQUEST',
    ref,
    chunkBytes,
    verifyOnly,
    heldSize: held?.size ?? 0,
    haveDigest: held?.haveDigest() ?? Buffer.alloc(HASH_BYTES),
    ranges: held?.knownRanges() ?? [],
    path: remotePath,
    ...(stripe ? { stripe } : {}),
    ...(patch ? { patch } : {}),
  });
}

/**
 * Writes one stream's chunks into the shared partial until GET_END. Each stream writes as itself, so the
 * receiver machine refuses a chunk another stream has open or verified (PROTOCOL.md §5.13.6).
 */
async function receiveChunks(
  session: ClientSession,
  ref: number,
  partial: PartialTransfer,
  local?: FoundBlocks,
): Promise<{ bytes: number; endDigest: Buffer }> {
  let bytes = 0;
  // PROTOCOL.md §5.17.4: a patched chunk is built from the pieces that arrive and the old file's bytes.
  const patch = local && new PatchWriter(local, (offset, data) => partial.writeData(offset, data, session));
  for (;;) {
    const message = await session.take(ref);
    if (message.type === 'GET_DATA') {
      await patch?.beforeData(message.offset);
      await partial.writeData(message.offset, message.data, session);
      patch?.wrote(message.offset + message.data.length);
      bytes += message.data.length;
    } else if (message.type === 'GET_CHUNK') {
      await patch?.beforeChunk(message.index);
      partial.completeChunk(message.index, message.chunkHash, session);
    } else if (message.type === 'GET_END') {
      return { bytes, endDigest: message.fileDigest };
    } else {
      throw new FerryError('MESSAGE_UNEXPECTED', `${message.type} during a download`);
    }
  }
}

/** One joined stripe: the same file offered again, its chunks into the partial, their digest checked. */
async function receiveStripe(
  session: ClientSession,
  remotePath: string,
  chunkBytes: number,
  held: ChunkHashes | undefined,
  stripe: GetStripe,
  primary: { size: number; mtimeMs: number; heldAccepted: boolean },
  partial: PartialTransfer,
): Promise<number> {
  const ref = session.openRef();
  try {
    await sendRequest(session, ref, remotePath, chunkBytes, false, held, stripe);
    const offer = await session.expect(ref, 'GET_OFFER');
    if (
      offer.size !== primary.size ||
      offer.mtimeMs !== primary.mtimeMs ||
      offer.heldAccepted !== primary.heldAccepted ||
      !offer.striped
    )
      throw new FerryError(
        'SOURCE_CHANGED',
        `stream ${stripe.index + 1} was offered another version of the file`,
      );
    const { bytes, endDigest } = await receiveChunks(session, ref, partial);
    // PROTOCOL.md §5.13.6: a joined stripe's GET_END carries the digest over the chunk hashes it sent.
    partial.endPart(session, endDigest);
    return bytes;
  } finally {
    session.closeRef(ref);
  }
}
