import { FerryError, toFerryError } from '../errors/index.js';
import {
  ChunkHashes,
  DEFAULT_CHUNK_BYTES,
  HASH_BYTES,
  LEAF_BYTES,
  type GetStripe,
} from '../protocol/index.js';
import { PartialTransfer, partialOwnership, type KnownLeafHashes, type RootPath } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { PARALLEL_MIN_BYTES } from './upload-file.js';
import { downloadPartialPaths, downloadPartialsFrom } from './download-partials.js';
import { deltaDownloadSlot } from './delta-download-slots.js';
import { deltaBase, receiveDelta } from './receive-delta.js';
import { receiveDownload, sendRequest } from './receive-download.js';

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
  /**
   * The client's store of leaf hashes (issue 16, WARM deltas): a file downloaded is recorded there, and a
   * delta download against a file known there takes its old leaves' hashes from it instead of hashing them.
   */
  knownLeafHashes?: KnownLeafHashes | undefined;
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
  const ownership = await partialOwnership(paths);
  // Its subject is the file in the way, beside the destination: `onThisMachine` tells the user to remove it
  // (STATE_FILE_IN_THE_WAY), as `--overwrite` never would.
  if (ownership.owner === 'foreign' && !verifyOnly)
    throw new FerryError('FILE_EXISTS', 'a file ferry did not make is in the way of the partial', {
      subject: ownership.inTheWay,
      hint: '', // not the table's --overwrite, which would not remove it
    });
  const owner = ownership.owner;
  if (!verifyOnly) {
    const partial = await PartialTransfer.inspect(downloadPartialsFrom(session.serverPublicKey), target);
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
  // A delta's signature is held in memory until the download ends: a few at once in the process.
  const releaseSlot = delta ? await deltaDownloadSlot() : undefined;
  if (releaseSlot) {
    await session
      .send({
        type: 'GET_REQUEST',
        ref,
        chunkBytes: LEAF_BYTES,
        verifyOnly: false,
        signature: true,
        heldSize: 0,
        haveDigest: Buffer.alloc(HASH_BYTES),
        ranges: [],
        path: remotePath,
      })
      .catch((err: unknown) => {
        releaseSlot();
        throw err;
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
    .finally(() => {
      session.closeRef(answered.ref);
      releaseSlot?.();
    });
  done.catch(() => undefined);
  return { ref, done };
}
