import { lstat, rm } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';
import {
  ChunkHashes,
  LEAF_BYTES,
  LEAF_DELTA_FROM_BYTES,
  MIN_DELTA_BLOCK_BYTES,
  boundedHeldRanges,
  deltaBlockBytesFor,
  indicesFromRanges,
  type DeltaSignature,
  type GetOfferMessage,
  type GetStripe,
} from '../protocol/index.js';
import { DeltaSignatureReceiver, type SignedFile } from '../machines/index.js';
import { LEAF_HASH_THREAD, type PartialPaths, type RootPath } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';
import { ArrivingSignature } from './arriving-signature.js';
import {
  closeOpenedForScan,
  openForScan,
  scanOldFile,
  type OldFileScan,
  type OpenedForScan,
} from './old-file-scans.js';
import { downloadPartialsFrom } from './download-partials.js';
import { receiveDownload, sendRequest } from './receive-download.js';
import { checkOfferFits } from './offer-fits.js';
import type { DownloadOptions, DownloadResult } from './download-file.js';

/**
 * Whether the local file at `path` can be a delta's base: a regular file of at least the smallest block
 * (1 KiB, §5.17.1): the server's file may be signed in blocks that small (§5.15.2).
 */
export async function deltaBase(path: string): Promise<boolean> {
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined || !stats.isFile() || stats.size < MIN_DELTA_BLOCK_BYTES) return false;
  // An old file of leaves is scanned with its leaf hashes taken on the leaf hash thread (`ScanHashesAhead`):
  // started now, it has loaded by the scan's first window instead of making it wait ~30 ms (issue 16).
  if (stats.size >= LEAF_DELTA_FROM_BYTES) LEAF_HASH_THREAD.warm();
  return true;
}

/**
 * A delta download (PROTOCOL.md §5.17): the signature of the server's file on `ref`, its leaves found in the
 * old local file and copied into the partial (each verified), then a second request that holds them, so the
 * server sends only the rest. The old file is only read; it is replaced by the rename of the verified new
 * file (§5.11.3). An identical old file is left as it is.
 */
export async function receiveDelta(
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
  // Its partial is this server's (a partial another server left is not resumed here: download-partials.ts).
  const downloadPartials = downloadPartialsFrom(session.serverPublicKey);
  // PROTOCOL.md §5.17.3: in leaves, the old file is scanned while the records arrive (the server signs as it
  // sends them), from the first record on; a signature in smaller blocks (a file under 16 MiB) is scanned
  // once whole.
  const arrival = new ArrivingSignature();
  /** The old file and the partial, opened once the offer says the signature comes in leaves. */
  let opened: Promise<OpenedForScan> | undefined;
  let scanning: Promise<OldFileScan> | undefined;
  let signed: SignedFile | undefined;
  // Progress counts once the download has started (`onStarted`); the scan's partial says so as it goes on.
  let progress: ((verified: number) => void) | undefined;
  const scanOptions = {
    durableBatchBytes: options.durableBatchBytes,
    knownLeafHashes: options.knownLeafHashes,
    onDurable: (verified: number) => progress?.(verified),
  };
  try {
    signed = await receiveSignature(
      session,
      ref,
      receiver,
      target,
      (offer) => {
        // In leaves (the rule's blocks for the offered size, §5.17.2): opened while the server reads and
        // hashes its first leaves, so the scan starts at the first record.
        if (deltaBlockBytesFor(offer.size) < LEAF_BYTES) return;
        opened = openForScan(downloadPartials, target, offer, LEAF_BYTES, scanOptions);
        opened.catch(() => undefined); // awaited by the scan, or closed after the failure that stops it
      },
      (arrived) => {
        if (scanning === undefined && opened !== undefined && arrived.signature.blockBytes >= LEAF_BYTES) {
          scanning = scanOldFile(opened, { signature: arrived.signature }, arrival);
          scanning.catch(() => undefined); // awaited below, or after the failure that stops it
        }
        arrival.arrived(arrived.blocks);
      },
    );
  } catch (err) {
    // The answer failed: a scan waiting for more of it stops, closing what it opened, before the error goes on;
    // what was opened for a scan that never began is closed.
    arrival.fail(err);
    if (scanning !== undefined) await scanning.catch(() => undefined);
    else if (opened !== undefined) await closeOpenedForScan(opened);
    throw err;
  }
  // A file too large for a signature comes whole (PROTOCOL.md §5.17.2), in leaf-sized chunks.
  if (signed === undefined)
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
  arrival.end(signed.digest);
  answered.complete = true;
  session.closeRef(ref);
  const { offer } = signed;
  const scanned = await (scanning ??
    scanOldFile(
      opened ?? openForScan(downloadPartials, target, offer, signed.signature.blockBytes, scanOptions),
      signed,
      undefined,
    ));
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
  // Claimed as taken when it fits (issue 16: a copy leaf by leaf took the block roots of its digest again,
  // ~20 ms of a cold 1 GiB download's critical path between its scan and its second request).
  const takenRanges = taken.held.knownRanges();
  const bounded = boundedHeldRanges(takenRanges);
  const held = bounded.length === takenRanges.length ? taken.held : new ChunkHashes(offer.size, LEAF_BYTES);
  if (held !== taken.held)
    for (const index of indicesFromRanges(bounded)) held.set(index, taken.held.get(index)!);
  const reusedBytes = held.knownBytes();
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

/**
 * Receives the answer's signature records on `ref` until the signature is whole (GET_END: the signed file),
 * telling `onArrived` of the blocks in after each record; undefined when the file comes whole instead
 * (PROTOCOL.md §5.17.2). A function of its own: it runs once per record, so V8 optimizes it while it runs,
 * and a large function around it was compiled with it and thrown away at its end (issue 16).
 */
async function receiveSignature(
  session: ClientSession,
  ref: number,
  receiver: DeltaSignatureReceiver,
  target: RootPath,
  onOffer: (offer: GetOfferMessage) => void,
  onArrived: (arrived: { signature: DeltaSignature; blocks: number }) => void,
): Promise<SignedFile | undefined> {
  let checked = false;
  for (;;) {
    const signed = receiver.receive(await session.take(ref));
    if (receiver.state === 'plain') return undefined;
    if (!checked) {
      // The offer is refused before its signature is held or the scan makes a partial of its size (a
      // sparse file of up to 16 GiB), as a plain download's is (offer-fits.ts): the scan's partial is fresh,
      // so the whole size is to come. A plain answer is checked by `receiveDownload`.
      checked = true;
      await checkOfferFits(receiver.offer!, { chunkBytes: LEAF_BYTES, dir: target.dir, heldBytes: 0 });
      if (receiver.state === 'signing') onOffer(receiver.offer!);
    }
    const arrived = receiver.arrived;
    if (arrived !== undefined) onArrived(arrived);
    if (signed !== undefined) return signed;
  }
}
