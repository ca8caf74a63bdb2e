import { lstat, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FerryError, toFerryError } from '../errors/index.js';
import {
  ChunkHashes,
  DEFAULT_CHUNK_BYTES,
  HASH_BYTES,
  LEAF_BYTES,
  MIN_DELTA_BLOCK_BYTES,
  boundedHeldRanges,
  chunkBytesFor,
  indicesFromRanges,
  type BytePiece,
  type GetOfferMessage,
  type GetStripe,
} from '../protocol/index.js';
import { DeltaSignatureReceiver, type SignedFile } from '../machines/index.js';
import {
  FilePartialStore,
  PartialTransfer,
  SourceFile,
  hashAllChunks,
  partialOwner,
  type PartialPaths,
  type RootPath,
  siblingTempName,
} from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { PatchWriter, type FoundBlocks } from './delta-blocks-download.js';
import { ArrivingSignature } from './delta-download.js';
import { scanOldFile, type OldFileScan, type Patch } from './old-file-scans.js';
import { PARALLEL_MIN_BYTES } from './upload-file.js';

export interface DownloadOptions {
  chunkBytes?: number | undefined;
  /** Replace an existing local file (atomically). Without it an identical file is skipped, another refused. */
  overwrite?: boolean | undefined;
  /**
   * With `overwrite`, build the new file from the old one's unchanged leaves and receive only the rest
   * (PROTOCOL.md §5.17); default true. The chunk size is then one leaf, whatever `chunkBytes` says.
   */
  delta?: boolean | undefined;
  /** Verified bytes batched per fsync of the local partial (PROTOCOL.md §9.2). */
  durableBatchBytes?: number | undefined;
  /** `heldBytes` counts what a resume kept and, of it, `reusedBytes` what a delta took from the old file. */
  onStarted?: (info: { size: number; heldBytes: number; reusedBytes: number }) => void;
  /**
   * Connections (the primary included) a file of at least `parallelMinBytes` is striped over (PROTOCOL.md
   * §5.13.6); `extraStreams` opens (once) the other `streams - 1` sessions to the same server.
   */
  streams?: number | undefined;
  extraStreams?: (() => Promise<readonly ClientSession[]>) | undefined;
  /** Files smaller than this use one stream; default PARALLEL_MIN_BYTES. */
  parallelMinBytes?: number | undefined;
  onVerified?: (verifiedBytes: number, size: number) => void;
}

export interface DownloadResult {
  readonly size: number;
  readonly digest: Buffer;
  /** File bytes received in this session. */
  readonly receivedBytes: number;
  /** Bytes already held from an interrupted attempt and kept. */
  readonly resumedBytes: number;
  /** Bytes a delta download took from the old local file instead of receiving them (PROTOCOL.md §5.17). */
  readonly reusedBytes: number;
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

/** A download's partial, keyed by its destination, marked as ferry's even for one chunk (`partialOwner`). */
const downloadPartials = new FilePartialStore<RootPath>(
  { pathsOf: downloadPartialPaths },
  { markWithState: true },
);

/**
 * Sends the GET_REQUEST for one file (PROTOCOL.md §5.11) and returns at once; `done` then receives it.
 * What the client already holds is stated up front, so requests can be pipelined without a round trip
 * each: the verified chunks of an interrupted attempt (chunks this server sent). For an existing destination
 * without `overwrite` it asks VERIFY_ONLY and states nothing about the local file: the server offers its size
 * and digest, and the client compares them locally (identical means nothing to do, different FILE_EXISTS),
 * so a server learns neither the local file's size nor its digest, and cannot test guesses against it.
 */
export async function beginDownload(
  session: ClientSession,
  remotePath: string,
  target: RootPath,
  options: DownloadOptions = {},
): Promise<PendingDownload> {
  const paths = downloadPartialPaths(target);
  const ref = session.openRef();
  // The chunks we hold and their hashes: the whole file when verifying, else what a partial of ours holds.
  let held: ChunkHashes | undefined;
  const verifyOnly = target.exists && !options.overwrite;
  // PROTOCOL.md §5.17: replacing a local file of at least one leaf asks for the server's signature first, and
  // then only for what the old file lacks; its chunks are leaves, so little is received beyond what changed.
  let delta = !verifyOnly && target.exists && options.delta !== false && (await deltaBase(target.path));
  const chunkBytes = delta ? LEAF_BYTES : (options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const streams = options.streams ?? 1;
  // The client cannot know the size before GET_OFFER, so the threshold travels with the request (§5.13.6).
  const stripe: GetStripe | undefined =
    streams > 1 && options.extraStreams && !verifyOnly
      ? { index: 0, count: streams, minBytes: options.parallelMinBytes ?? PARALLEL_MIN_BYTES }
      : undefined;
  // A server names the file, and so the partial's names: only a partial ferry made is reused or removed.
  const owner = await partialOwner(paths);
  if (owner === 'foreign' && !verifyOnly)
    throw new FerryError(
      'FILE_EXISTS',
      `${basename(paths.dataPath)} or ${basename(paths.logPath)} is in the way and was not made by ferry`,
    );
  if (!verifyOnly) {
    const partial = await PartialTransfer.inspect(downloadPartials, target);
    if (partial && partial.header.chunkBytes === chunkBytes && partial.held.length > 0)
      held = ChunkHashes.of(partial.header.size, chunkBytes, partial.held);
  }
  // An interrupted delta resumes like any download: its partial holds the leaves it took from the old file
  // and those it received, and the old file is not scanned again.
  if (held) delta = false;
  const ours = owner === 'ferry';
  // Once the server's answer is complete, the ref is over on its side: a local verdict (FILE_EXISTS for a
  // differing file) must not send a CANCEL, which would tell the server the outcome (§5.11.1). A delta moves
  // on to a second ref once its signature is in.
  const answered = { ref, complete: false };
  let receiving: Promise<DownloadResult>;
  if (delta) {
    await session.send({
      type: 'GET_REQUEST',
      ref,
      chunkBytes: LEAF_BYTES,
      verifyOnly: false,
      signature: true,
      heldSize: 0,
      haveDigest: Buffer.alloc(HASH_BYTES),
      ranges: [],
      path: remotePath,
    });
    receiving = receiveDelta(session, ref, target, paths, ours, options, remotePath, stripe, answered);
  } else {
    await sendRequest(session, ref, remotePath, chunkBytes, verifyOnly, held, stripe);
    receiving = session.expect(ref, 'GET_OFFER').then((offer) =>
      receiveDownload(session, ref, offer, target, paths, chunkBytes, verifyOnly, held, ours, options, {
        remotePath,
        stripe,
        answered,
        reusedBytes: 0,
      }),
    );
  }
  const done = receiving
    .catch((err: unknown) => {
      // Given up on here (a local write failed, say): the server stops sending the rest (PROTOCOL.md §5.9).
      if (!toFerryError(err).remote && !answered.complete) session.cancelRef(answered.ref);
      throw err;
    })
    .finally(() => session.closeRef(answered.ref));
  done.catch(() => undefined);
  return { ref, done };
}

/**
 * Whether the local file at `path` can be a delta's base: a regular file of at least the smallest block
 * (1 KiB, §5.17.1): the server's file may be signed in blocks that small (§5.15.2).
 */
async function deltaBase(path: string): Promise<boolean> {
  const stats = await lstat(path).catch(() => undefined);
  return stats !== undefined && stats.isFile() && stats.size >= MIN_DELTA_BLOCK_BYTES;
}

/** What `receiveDownload` needs beyond the request's own facts. */
interface ReceiveContext {
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

/**
 * A delta download (PROTOCOL.md §5.17): the signature of the server's file on `ref`, its leaves found in the
 * old local file and copied into the partial (each verified), then a second request that holds them, so the
 * server sends only the rest. The old file is only read; it is replaced by the rename of the verified new
 * file (§5.11.3). An identical old file is left as it is.
 */
async function receiveDelta(
  session: ClientSession,
  ref: number,
  target: RootPath,
  paths: PartialPaths,
  partialIsOurs: boolean,
  options: DownloadOptions,
  remotePath: string,
  stripe: GetStripe | undefined,
  answered: { ref: number; complete: boolean },
): Promise<DownloadResult> {
  const receiver = new DeltaSignatureReceiver();
  let signed: SignedFile | undefined;
  // PROTOCOL.md §5.17.3: in leaves, the old file is scanned while the records arrive (the server signs as it
  // sends them), from the first record on; a signature in smaller blocks (a file under 16 MiB) is scanned
  // once whole.
  const arrival = new ArrivingSignature();
  let scanning: Promise<OldFileScan> | undefined;
  // Progress counts once the download has started (`onStarted`); the scan's partial says so as it goes on.
  let progress: ((verified: number) => void) | undefined;
  const scanOptions = {
    durableBatchBytes: options.durableBatchBytes,
    onDurable: (verified: number) => progress?.(verified),
  };
  try {
    while (signed === undefined) {
      signed = receiver.receive(await session.take(ref));
      // A file too large for a signature comes whole (PROTOCOL.md §5.17.2), in leaf-sized chunks.
      if (receiver.state === 'plain')
        return receiveDownload(
          session,
          ref,
          receiver.offer!,
          target,
          paths,
          LEAF_BYTES,
          false,
          undefined,
          partialIsOurs,
          options,
          { remotePath, stripe: undefined, answered, reusedBytes: 0 },
        );
      const arrived = receiver.arrived;
      if (arrived === undefined) continue;
      if (scanning === undefined && arrived.signature.blockBytes >= LEAF_BYTES) {
        scanning = scanOldFile(
          downloadPartials,
          target,
          receiver.offer!,
          { signature: arrived.signature },
          scanOptions,
          arrival,
        );
        scanning.catch(() => undefined); // awaited below, or after the failure that stops it
      }
      arrival.arrived(arrived.blocks);
    }
  } catch (err) {
    // The answer failed: a scan waiting for more of it stops, closing what it opened, before the error goes on.
    arrival.fail(err);
    await scanning?.catch(() => undefined);
    throw err;
  }
  arrival.end(signed.digest);
  answered.complete = true;
  session.closeRef(ref);
  const { offer } = signed;
  const scanned = await (scanning ??
    scanOldFile(downloadPartials, target, offer, signed, scanOptions, undefined));
  if (scanned.kind === 'identical') {
    if (partialIsOurs) {
      await rm(paths.dataPath, { force: true });
      await rm(paths.logPath, { force: true });
    }
    options.onStarted?.({ size: offer.size, heldBytes: offer.size, reusedBytes: offer.size });
    return {
      size: offer.size,
      digest: signed.digest,
      receivedBytes: 0,
      resumedBytes: 0,
      reusedBytes: offer.size,
      identical: true,
    };
  }
  const { taken, patch, old, partial } = scanned;
  // PROTOCOL.md §5.4: at most 4096 ranges may be claimed; a more scattered set gives up its smallest ranges.
  const held = new ChunkHashes(offer.size, LEAF_BYTES);
  let reusedBytes = 0;
  for (const index of indicesFromRanges(boundedHeldRanges(taken.held.knownRanges()))) {
    held.set(index, taken.held.get(index)!);
    reusedBytes += held.lengthOf(index);
  }
  // The partial holds verified chunks beyond the claim: the server would send them again, so it is made
  // durable and closed, and opened again with the claim alone.
  if (held.knownCount !== taken.held.knownCount) await partial.close();
  const second = session.openRef();
  answered.ref = second;
  answered.complete = false;
  try {
    // A patch is never striped (§5.17.4): it is a file under 16 MiB, one stream's work.
    await sendRequest(
      session,
      second,
      remotePath,
      LEAF_BYTES,
      false,
      held.knownCount > 0 ? held : undefined,
      patch ? undefined : stripe,
      patch?.pieces,
    );
    const next = await session.expect(second, 'GET_OFFER');
    if (next.patched && (patch === undefined || next.size !== offer.size))
      throw new FerryError('MESSAGE_MALFORMED', 'a patched GET_OFFER for a request without that patch');
    // Not patched (the claim failed, say): every chunk not held comes whole, and the old file is done with.
    if (!next.patched) await old.close();
    // The scan's partial is received into when it holds exactly what the offer accepted; otherwise it is
    // made durable and closed before the download opens it again (fresh when the claim failed).
    const reuse = next.heldAccepted && next.size === offer.size && held.knownCount === taken.held.knownCount;
    if (!reuse) await partial.close();
    progress = (verified) => options.onVerified?.(verified, offer.size);
    return await receiveDownload(
      session,
      second,
      next,
      target,
      paths,
      LEAF_BYTES,
      false,
      held.knownCount > 0 ? held : undefined,
      partialIsOurs,
      options,
      {
        remotePath,
        stripe,
        answered,
        reusedBytes,
        patch: next.patched ? patch : undefined,
        open: reuse ? partial : undefined,
      },
    );
  } finally {
    session.closeRef(second);
    await old.close();
    await partial.close();
  }
}

async function receiveDownload(
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
    const end = await session.expect(ref, 'GET_END');
    answered.complete = true;
    // Any chunk size gives the same digest (§7.2); the size is compared first, so a differing file of
    // another size is not read at all.
    const local = await SourceFile.open(target.path, { noFollow: true });
    let ours: Buffer | undefined;
    try {
      if (local.size === offer.size)
        ours = (await hashAllChunks(local, chunkBytesFor(local.size, chunkBytes))).digest();
    } finally {
      await local.close();
    }
    if (!ours?.equals(end.fileDigest))
      throw new FerryError('FILE_EXISTS', 'a different file is in the way (use overwrite to replace it)');
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
  const partial =
    context.open ??
    (await PartialTransfer.open(downloadPartials, target, {
      // mtime 0: a download's partial is identified by size and chunk size; its content by the chunk hashes.
      size: offer.size,
      mtimeMs: 0,
      chunkBytes,
      fresh: !offer.heldAccepted,
      verified: keep ? [...keep.entries()] : [],
      durableBatchBytes: options.durableBatchBytes,
      // A stripe's GET_END names the digest over the chunks it sent (PROTOCOL.md §5.13.6).
      checkPartDigests: true,
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

async function sendRequest(
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
