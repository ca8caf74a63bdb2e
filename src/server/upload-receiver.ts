import { FerryError, codeFromWire, toFerryError } from '../errors/index.js';
import {
  ChunkHashes,
  JOIN_TOKEN_BYTES,
  MAX_TRANSFER_CHUNKS,
  PERMISSION_UPLOAD,
  chunkCount,
  type CancelMessage,
  type ErrorMessage,
  type PutChunkMessage,
  type PutCopyMessage,
  type PutDataMessage,
  type PutEndMessage,
  type PutOfferMessage,
} from '../protocol/index.js';
import { PartialTransfer, SourceFile, resolveUnderRoot, type RootPath } from '../transfer/index.js';
import { DeltaOldFile } from './delta-old-file.js';
import { existingHashes, type ExistingAt } from './existing-hashes.js';
import type { SessionIo } from './session-io.js';
import { STORE_REQUESTS } from './store-heads.js';
import { missingParents } from './missing-parents.js';
import type { JoinTarget, TransferClaim } from './transfer-registry.js';
import { transferIdOf } from './transfer-id.js';
import { TransferStages } from './transfer-stages.js';
import { openUploadPartial, type UploadTarget } from './upload-partial.js';
import { removeKeysBelow } from './remove-keys-below.js';
import { assertObjectPlaceable } from './object-placeable.js';

/** Finishing (fsync, rename, fsync directory) overlaps the next transfers up to this many at once. */
const MAX_CONCURRENT_FINISHES = 32;

/** The transfer currently receiving data. */
type Active =
  | {
      kind: 'partial';
      ref: number;
      transferId: string;
      partial: PartialTransfer<UploadTarget>;
      target: UploadTarget;
      offer: PutOfferMessage;
      receivedBytes: number;
      /** Settles `UploadOutcome.takenOver` when another session takes this transfer over (§6.2). */
      takeOver: () => void;
      /** What a joined stream must present (PROTOCOL.md §5.13.2), sent in this offer's PUT_ACCEPT. */
      joinToken: Buffer;
      /** A delta upload's old file (PROTOCOL.md §5.15), open since the offer: PUT_COPY reads from it. */
      old?: DeltaOldFile | undefined;
    }
  | {
      // PROTOCOL.md §5.4 EXISTING: the destination may already hold this content; only the digest decides.
      kind: 'existing';
      ref: number;
      hashes: ChunkHashes;
      offer: PutOfferMessage;
    }
  | {
      // PROTOCOL.md §5.13: an extra stream writing chunks into a partial another session holds.
      kind: 'joined';
      ref: number;
      partial: PartialTransfer<UploadTarget>;
      offer: PutOfferMessage;
      receivedBytes: number;
    };

/**
 * What the session learns from an upload step besides its errors (it never calls back into the session):
 * how the transfer may still end after the step returned.
 */
export interface UploadOutcome {
  /** Resolves if another session of this client takes the transfer over (PROTOCOL.md §6.2). */
  readonly takenOver?: Promise<void>;
  /**
   * Work this step left running: the background finish after PUT_END (resolves once PUT_DONE is sent), or a
   * delta upload's signing after PUT_ACCEPT (resolves once the signature is sent); rejects with what ends
   * the ref.
   */
  readonly finished?: Promise<void>;
}

const NOTHING_PENDING: UploadOutcome = {};

/**
 * The upload half of a server session (PROTOCOL.md §5.3–§5.9, §6.2): one transfer receives data at a time,
 * while earlier ones finish (durably) in the background so many small files do not wait on each fsync.
 * The session's UploadLane (src/machines/) decides which messages reach it; every step returns or throws a
 * coded error, and what happens later (a takeover, a background finish) is in its UploadOutcome.
 */
export class UploadReceiver implements TransferClaim {
  readonly #io: SessionIo;
  #active: Active | undefined;
  /** Background finishes, at most MAX_CONCURRENT_FINISHES (each settles, never rejects). */
  readonly #finishing = new Set<Promise<void>>();
  /**
   * What each transfer this session claims is doing now, from just before its claim until the claim is let
   * go: what a takeover (`surrender`) and a new offer of the same transfer wait on.
   */
  readonly #stages = new TransferStages();
  /** Directories under the root this session already checked (see resolveUnderRoot). */
  readonly #knownDirs = new Set<string>();
  files = 0;
  bytes = 0;

  /** TransferClaim: this session's number on the server (newer sessions take over, §6.2). */
  get sessionSeq(): number {
    return this.#io.events.sessionId;
  }

  constructor(io: SessionIo) {
    this.#io = io;
  }

  /** Answers a PUT_OFFER (PROTOCOL.md §5.3, §5.4, §5.13.2); the lane has checked no upload is open. */
  async offer(offer: PutOfferMessage): Promise<UploadOutcome> {
    let takenOver: Promise<void> | undefined;
    let signing: Promise<void> | undefined;
    await this.#offer(
      offer,
      (promise) => {
        takenOver = promise;
      },
      (promise) => {
        signing = promise;
      },
    );
    // A delta's signing left running (PROTOCOL.md §5.15.2): what fails it ends the ref, as a finish's would.
    return { ...(takenOver ? { takenOver } : {}), ...(signing ? { finished: signing } : {}) };
  }

  /** Handles a message of the open upload (the lane routes only those here). */
  async receive(
    message: PutDataMessage | PutCopyMessage | PutChunkMessage | PutEndMessage,
  ): Promise<UploadOutcome> {
    switch (message.type) {
      case 'PUT_COPY': {
        const active = this.#expect(message.ref, message.type);
        // PROTOCOL.md §5.15.3: only a delta upload's partial has an old file to copy from.
        if (active.kind !== 'partial' || !active.old)
          throw new FerryError('MESSAGE_MALFORMED', 'put_copy without DELTA');
        await active.old.copyInto(active.partial, message, this);
        return NOTHING_PENDING;
      }
      case 'PUT_DATA': {
        const active = this.#expect(message.ref, message.type);
        if (active.kind === 'existing') return NOTHING_PENDING; // pipelined data for an existing file: the digest decides
        // Arrived data wins over a delta's old leaves placed while signing, and lands after them (LeafPlacing).
        if (active.kind === 'partial') await active.old?.arrive(message.offset, message.data.length);
        // `this` names the stream: a chunk travels whole on one session (PROTOCOL.md §5.13.3).
        await active.partial.writeData(message.offset, message.data, this);
        active.receivedBytes += message.data.length;
        this.bytes += message.data.length;
        return NOTHING_PENDING;
      }
      case 'PUT_CHUNK': {
        const active = this.#expect(message.ref, message.type);
        if (active.kind !== 'existing') active.partial.completeChunk(message.index, message.chunkHash, this);
        return NOTHING_PENDING;
      }
      case 'PUT_END': {
        this.#expect(message.ref, message.type);
        const active = this.#endActive()!;
        if (active.kind === 'joined') {
          // PROTOCOL.md §5.13.4: this stream's chunks were processed in order, so its part is verified; a
          // chunk it left half-sent is not, and stays for another stream to send.
          active.partial.endPart(this, message.fileDigest);
          await this.#io.send({
            type: 'PUT_DONE',
            ref: active.ref,
            identical: false,
            part: true,
            fileDigest: Buffer.alloc(32),
          });
          return NOTHING_PENDING;
        }
        if (active.kind === 'existing') {
          await this.#compareExisting(active, message.fileDigest);
          return NOTHING_PENDING;
        }
        // A delta's signing runs behind the copies (DeltaOldFile.startSignature): over before PUT_DONE.
        await active.old?.stopSigning();
        return await this.#finishInBackground(active, message.fileDigest);
      }
    }
  }

  /**
   * The client ends the open upload with CANCEL (PROTOCOL.md §5.9), or with an ERROR in place of its PUT_END
   * (§5.1, §5.6.1: its source changed; the log and the dashboard learn why). The partial is kept.
   */
  async endByClient(message: CancelMessage | ErrorMessage): Promise<void> {
    if (this.#active?.ref === message.ref) await this.closeActive();
    this.#io.events.transferFailed(
      message.ref,
      message.type === 'ERROR' ? codeFromWire(message.code) : 'ABORTED',
    );
  }

  /** The partial of `transferId` and its join token if this session is receiving it (§5.13.2). */
  joinTargetOf(transferId: string): JoinTarget | undefined {
    const active = this.#active;
    // A delta upload is one stream (PROTOCOL.md §5.15.3) and may write old leaves in place while it signs,
    // tracking every write to its partial itself (delta-old-file.ts): a joined stream's would escape that.
    return active?.kind === 'partial' && active.transferId === transferId && active.old === undefined
      ? { partial: active.partial, token: active.joinToken }
      : undefined;
  }

  /**
   * Called by the registry when a newer session of this client offers a transfer we hold; resolves once this
   * session no longer touches it. An offer still opening the partial settles first (else both sessions open
   * the same partial files: seed 2016104715); a transfer receiving is taken over and closed; a close or a
   * finish under way, or waiting for a finish slot, completes (after a finish the newer session finds the
   * file in place and settles as identical).
   */
  async surrender(transferId: string): Promise<void> {
    for (let stage = this.#stages.stageOf(transferId); stage; stage = this.#stages.stageOf(transferId)) {
      if (stage !== 'receiving') {
        await this.#stages.changed(transferId);
        continue;
      }
      const active = this.#active;
      // `receiving` is entered and left with #active (`#offerPartial`, `#endActive`).
      if (active?.kind !== 'partial' || active.transferId !== transferId)
        throw new FerryError('INTERNAL', 'a receiving transfer that is not the open upload');
      // The session learns it now, before the close's flush, so its ERROR goes out at once and a message of
      // the ref already being handled is discarded rather than failing the session.
      active.takeOver();
      await this.closeActive();
    }
  }

  /**
   * Clears the open upload and returns it; a partial's transfer enters `ending` in the same step, so a
   * takeover from now on waits for its close or finish instead of finding nothing (closing-24).
   */
  #endActive(): Active | undefined {
    const active = this.#active;
    this.#active = undefined;
    if (active?.kind === 'partial') this.#stages.enter(active.transferId, 'ending');
    return active;
  }

  /** Closes the receiving transfer, keeping its partial for a later resume. */
  async closeActive(): Promise<void> {
    const active = this.#endActive();
    // A joined stream's half-sent chunk goes back to unverified; the partial itself is the primary's.
    if (active?.kind === 'joined') active.partial.abandonChunks(this);
    if (active?.kind !== 'partial') return;
    try {
      await active.old?.close();
      await active.partial.close();
    } catch (err) {
      // A local fault with no event (the transfer already ended): logged here, not through server-log.ts.
      this.#io.log.warn({ code: toFerryError(err).code }, 'could not close partial');
    } finally {
      this.#letGo(active.transferId);
    }
  }

  /** Waits for background finishes, then closes the receiving transfer and waits for every other close. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#finishing]);
    await this.closeActive();
    await this.#stages.allLeft();
  }

  /** The last step of a claimed transfer: its files closed or placed, the claim goes, then the stage. */
  #letGo(transferId: string): void {
    this.#io.ctx.registry.release(transferId, this);
    this.#stages.leave(transferId);
  }

  async #offer(
    offer: PutOfferMessage,
    onTakeOver: (takenOver: Promise<void>) => void,
    onSigning: (signing: Promise<void>) => void,
  ): Promise<void> {
    // PROTOCOL.md §6.2: one transfer receives data at a time per session (the lane refuses a second offer).
    if (this.#active)
      throw new FerryError('INTERNAL', `PUT_OFFER while transfer ${this.#active.ref} is open`);
    const io = this.#io;
    try {
      io.require(PERMISSION_UPLOAD, 'upload');
      // PROTOCOL.md §10: a hash per chunk is kept, so the chunk count is bounded.
      if (chunkCount(offer.size, offer.chunkBytes) > MAX_TRANSFER_CHUNKS) {
        throw new FerryError('FILE_TOO_LARGE', `more than ${MAX_TRANSFER_CHUNKS} chunks; use larger chunks`);
      }
      if (io.ctx.maxFileBytes > 0 && offer.size > io.ctx.maxFileBytes) {
        throw new FerryError('FILE_TOO_LARGE', `${offer.size} bytes, limit ${io.ctx.maxFileBytes}`);
      }
      const rooted = io.rooted(offer.path);
      if (offer.join) {
        this.#join({ ...offer, join: offer.join }, transferIdOf(io.clientKey, rooted.join('/')));
        await io.send({
          type: 'PUT_ACCEPT',
          ref: offer.ref,
          restarted: false,
          existing: false,
          haveDigest: Buffer.alloc(32),
          joinToken: Buffer.alloc(JOIN_TOKEN_BYTES),
          ranges: [],
        });
        return;
      }
      // Claim first: a session of this client still writing or finishing the same file completes or
      // lets go before we look at the destination and the partial (PROTOCOL.md §6.2).
      const transferId = transferIdOf(io.clientKey, rooted.join('/'));
      // This session's own earlier use of the file ends first: a finish still placing it (PUT_END answers
      // before the file is placed) must not have its partial reopened under it.
      await this.#stages.left(transferId);
      // Tracked from before the claim: the claim holds the transfer from inside registry.claim on.
      this.#stages.enter(transferId, 'offering');
      let target: RootPath;
      try {
        await io.ctx.registry.claim(transferId, this, io.clientKey, io.stopped);
        const objects = io.ctx.objectStore;
        if (objects) {
          // Issue 15: the file becomes an object; there are no directories to make or to charge.
          const key = objects.targetOf(rooted.join('/'));
          // Paid first (STORE_REQUESTS), as a GET_REQUEST's HEAD is: the HEAD of the object it would replace,
          // or the read of its partial's state; an offer refused or cancelled at once was free store work.
          await io.ctx.storeHeads.spend(io.clientKey, STORE_REQUESTS.open, io.stopped);
          // No tree shape of its own: refused where a disk would refuse it (docs/SECURITY.md, stop 34).
          await assertObjectPlaceable(io, rooted, {
            replaceDir: offer.overwrite && offer.replaceDir === true,
          });
          if (!offer.overwrite && (await objects.exists(key))) {
            await this.#offerExisting(offer, { objectKey: key }, transferId);
            return;
          }
          await this.#offerPartial(offer, key, transferId, onTakeOver, onSigning);
          return;
        }
        // Bounded: a session touching very many directories just checks some of them again. A directory this
        // offer replaces (REPLACE_DIR) may be one of them, or hold some: they are all looked at again.
        if (this.#knownDirs.size > 10_000 || offer.replaceDir) this.#knownDirs.clear();
        // Directories this offer creates count against the quota and the reserve (StorageLimits.ENTRY_BYTES).
        await io.ctx.storage.chargeEntries(
          io.clientKey,
          await missingParents(io.ctx.root, rooted, this.#knownDirs),
        );
        target = await resolveUnderRoot(io.ctx.root, rooted, {
          createDirs: true,
          knownDirs: this.#knownDirs,
          // PROTOCOL.md §5.3: OVERWRITE replaces a link too, the link itself, when the file is placed;
          // REPLACE_DIR a directory, with all it holds, then too (FilePartialStore.finish), never before.
          replaceLink: offer.overwrite,
          replaceDir: offer.overwrite && offer.replaceDir === true,
        });
        if (!target.exists || offer.overwrite)
          await this.#offerPartial(
            offer,
            target,
            transferId,
            onTakeOver,
            onSigning,
            target.exists ? await DeltaOldFile.open(io, offer, target) : undefined,
          );
      } finally {
        // The claim's one owner: the open partial once there is one (closeActive or the finish lets it go,
        // after its files are closed), else this offer, here; not after hashing an existing file, which no
        // longer needs the claim.
        if (this.#stages.stageOf(transferId) === 'offering') this.#letGo(transferId);
      }
      // PROTOCOL.md §5.4: an existing file is compared, never written, so it is hashed without the claim.
      if (target.exists && !offer.overwrite) await this.#offerExisting(offer, { file: target }, transferId);
    } catch (err) {
      // A step after the partial opened failed (the answer could not be sent): close it and let the claim
      // go, or its file stays open and the transfer held until another session takes it over.
      await this.closeActive();
      throw err;
    }
  }

  /**
   * PROTOCOL.md §5.13.2: attach to the partial another session of this client is receiving, if the offer
   * carries the token the primary's PUT_ACCEPT issued. The held set was already answered to the primary; a
   * joined stream only needs to know it may send. Refused before anything is touched.
   */
  #join(offer: PutOfferMessage & { join: Buffer }, transferId: string): void {
    const partial = this.#io.ctx.registry.joinable(transferId, offer.join);
    const header = partial?.header;
    if (
      !partial ||
      header?.size !== offer.size ||
      header.mtimeMs !== offer.mtimeMs ||
      header.chunkBytes !== offer.chunkBytes
    ) {
      // Scoped to this ref: the stream may simply have arrived after the transfer finished. A wrong token
      // gets the same answer as no transfer, so it tells a session without the token nothing.
      throw new FerryError('PATH_NOT_FOUND', 'no matching transfer to join');
    }
    this.#active = { kind: 'joined', ref: offer.ref, partial, offer, receivedBytes: 0 };
  }

  /** Opens the partial of a transfer this session has claimed. */
  async #offerPartial(
    offer: PutOfferMessage,
    target: UploadTarget,
    transferId: string,
    onTakeOver: (takenOver: Promise<void>) => void,
    onSigning: (signing: Promise<void>) => void,
    old?: DeltaOldFile,
  ): Promise<void> {
    const io = this.#io;
    let partial: PartialTransfer<UploadTarget>;
    try {
      partial = await openUploadPartial(io, offer, target, transferId, old !== undefined);
    } catch (err) {
      await old?.close();
      throw err;
    }
    let takeOver = (): void => undefined;
    const joinToken = io.ctx.registry.newJoinToken();
    onTakeOver(new Promise<void>((resolve) => (takeOver = resolve)));
    this.#active = {
      kind: 'partial',
      ref: offer.ref,
      transferId,
      partial,
      target,
      offer,
      receivedBytes: 0,
      takeOver,
      joinToken,
      old,
    };
    // In the same step as #active: a takeover from now on takes this transfer over (`surrender`).
    this.#stages.enter(transferId, 'receiving');
    // Opening a resumed partial that changed since it closed re-hashed every chunk it holds: an offer/CANCEL
    // loop must not repeat that for free (docs/SECURITY.md "Hashing on request"). Paid after the fact,
    // before the answer; one unchanged since its clean close read nothing (PROTOCOL.md §9.2).
    await io.ctx.hashCache.spend(io.clientKey, partial.rehashedBytes, io.stopped);
    io.events.transferStarted(offer.ref, {
      direction: 'upload',
      path: offer.path,
      size: offer.size,
      heldBytes: partial.verifiedBytes,
      restarted: partial.restarted,
      delta: old !== undefined,
    });
    await io.send({
      type: 'PUT_ACCEPT',
      ref: offer.ref,
      restarted: partial.restarted,
      existing: false,
      ...(old ? { delta: true as const } : {}),
      haveDigest: partial.heldDigest(),
      joinToken,
      ranges: partial.heldRanges(),
    });
    if (old) {
      // The session goes on to its next message: copies and data are served while the signing runs, placing
      // or not (`DeltaOldFile.startSignature`, `LeafPlacing`).
      onSigning(old.startSignature(io, offer.ref, partial, offer.size).done);
    }
  }

  /** PROTOCOL.md §5.4 EXISTING: offer the existing content's chunk hashes so the client can tell if it is identical. */
  async #offerExisting(offer: PutOfferMessage, at: ExistingAt, transferId: string): Promise<void> {
    const hashes = await existingHashes(this.#io, offer, at, transferId);
    this.#active = { kind: 'existing', ref: offer.ref, hashes, offer };
    await this.#io.send({
      type: 'PUT_ACCEPT',
      ref: offer.ref,
      restarted: false,
      existing: true,
      haveDigest: hashes.haveDigest(),
      // An existing file is compared, never written: nothing to join.
      joinToken: Buffer.alloc(JOIN_TOKEN_BYTES),
      ranges: hashes.knownRanges(),
    });
  }

  async #compareExisting(active: Extract<Active, { kind: 'existing' }>, expected: Buffer): Promise<void> {
    const { offer, hashes } = active;
    const digest = hashes.digest();
    if (!digest.equals(expected)) throw new FerryError('FILE_EXISTS');
    this.files++;
    this.#io.events.transferStarted(offer.ref, {
      direction: 'upload',
      path: offer.path,
      size: offer.size,
      heldBytes: offer.size,
      restarted: false,
    });
    this.#io.events.transferFinished(offer.ref, { digest, transferredBytes: 0, identical: true });
    await this.#io.send({ type: 'PUT_DONE', ref: offer.ref, identical: true, fileDigest: digest });
  }

  /**
   * Starts the finish once a slot is free and returns it (the session turns its failure into an ERROR for
   * the ref). The transfer is `ending` already (`#endActive`), so a takeover waits for the slot too.
   */
  async #finishInBackground(
    active: Extract<Active, { kind: 'partial' }>,
    expected: Buffer,
  ): Promise<UploadOutcome> {
    while (this.#finishing.size >= MAX_CONCURRENT_FINISHES) await Promise.race(this.#finishing);
    const finished = this.#finish(active, expected);
    // Tracked settled, never rejecting: close() only waits for it to be over.
    const tracked = finished.catch(() => undefined).finally(() => this.#finishing.delete(tracked));
    this.#finishing.add(tracked);
    return { finished };
  }

  async #finish(active: Extract<Active, { kind: 'partial' }>, expected: Buffer): Promise<void> {
    const io = this.#io;
    try {
      const digest = await active.partial.finish(expected, active.target, {
        mode: active.offer.mode,
        overwrite: active.offer.overwrite,
        rememberLater: true,
      });
      io.ctx.storage.placed(active.transferId);
      if (typeof active.target === 'string' && active.offer.replaceDir)
        await removeKeysBelow(io, active.offer);
      await this.#recordPlaced(active);
      this.files++;
      io.events.transferFinished(active.ref, {
        digest,
        transferredBytes: active.receivedBytes,
        identical: false,
      });
      const answered = io.send({ type: 'PUT_DONE', ref: active.ref, identical: false, fileDigest: digest });
      // A cache for the next delta against the file, recorded once PUT_DONE is sealed and handed to the
      // socket (before any wait for it to drain): the answer does not wait for the record's encoding.
      active.partial.rememberPlaced();
      await answered;
    } catch (err) {
      await active.partial.close().catch(() => undefined);
      // A failed finish may have discarded the partial (DIGEST_MISMATCH): then its promise ends too.
      await io.ctx.storage.releaseIfAbsent(active.transferId);
      throw err;
    } finally {
      await active.old?.close();
      this.#letGo(active.transferId);
    }
  }

  /** Remembers the file this transfer placed (see TransferRegistry.recordPlaced), before the claim ends. */
  async #recordPlaced(active: Extract<Active, { kind: 'partial' }>): Promise<void> {
    // An object carries its transfer id instead (TRANSFER_METADATA, read by existingHashes).
    if (typeof active.target === 'string') return;
    try {
      const placed = await SourceFile.open(active.target.path, { noFollow: true, rooted: true });
      await placed.close();
      this.#io.ctx.registry.recordPlaced(active.transferId, placed.identity);
    } catch {
      // Replaced or removed already: then there is nothing of ours to recognise later.
    }
  }

  #expect(ref: number, type: string): Active {
    const active = this.#active;
    if (!active || active.ref !== ref)
      throw new FerryError('MESSAGE_UNEXPECTED', `${type} for ref ${ref}, which is not open`);
    return active;
  }
}
