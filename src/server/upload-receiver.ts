import { FerryError, codeFromWire, toFerryError } from '../errors/index.js';
import {
  type CancelMessage,
  type ErrorMessage,
  type PutChunkMessage,
  type PutCopyMessage,
  type PutDataMessage,
  type PutEndMessage,
  type PutOfferMessage,
} from '../protocol/index.js';
import type { RootPath } from '../transfer/index.js';
import { acceptPartialUpload } from './accept-partial-upload.js';
import type { ActiveUpload, PartialUpload } from './active-upload.js';
import { DeltaOldFile } from './delta-old-file.js';
import type { ExistingAt } from './existing-hashes.js';
import { existingUpload } from './existing-upload.js';
import { finishUpload } from './finish-upload.js';
import { joinedUpload } from './joined-upload.js';
import type { SessionIo } from './session-io.js';
import { checkUploadOffer } from './upload-offer-limits.js';
import type { UploadOutcome } from './upload-outcome.js';
import { BackgroundFinishes } from './background-finishes.js';
import { STORE_REQUESTS } from './store-heads.js';
import { openPartialUpload, type PartialUploadOffer } from './open-partial-upload.js';
import type { JoinTarget, TransferClaim } from './transfer-registry.js';
import { transferIdOf } from './transfer-id.js';
import { TransferStages } from './transfer-stages.js';
import { uploadTarget } from './upload-target.js';
import { assertObjectPlaceable } from './object-placeable.js';

/** Finishing (fsync, rename, fsync directory) overlaps the next transfers up to this many at once. */
const MAX_CONCURRENT_FINISHES = 32;

export type { UploadOutcome } from './upload-outcome.js';

/** What an offer leaves running, filled as it goes (`UploadOutcome`). */
type Pending = { -readonly [K in keyof UploadOutcome]: UploadOutcome[K] };

const NOTHING_PENDING: UploadOutcome = {};

/**
 * The upload half of a server session (PROTOCOL.md §5.3–§5.9, §6.2): one transfer receives data at a time,
 * while earlier ones finish (durably) in the background so many small files do not wait on each fsync.
 * The session's UploadLane (src/machines/) decides which messages reach it; every step returns or throws a
 * coded error, and what happens later (a takeover, a background finish) is in its UploadOutcome.
 */
export class UploadReceiver implements TransferClaim {
  readonly #io: SessionIo;
  #active: ActiveUpload | undefined;
  readonly #finishing = new BackgroundFinishes(MAX_CONCURRENT_FINISHES);
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

  /** The upload receiving data now (`partial ref 5`), for `SessionState`; undefined when none is. */
  get receiving(): string | undefined {
    const active = this.#active;
    return active && `${active.kind} ref ${active.ref}`;
  }

  /** Uploads finishing in the background now, for `SessionState`. */
  get finishing(): number {
    return this.#finishing.running;
  }

  /** Answers a PUT_OFFER (PROTOCOL.md §5.3, §5.4, §5.13.2); the lane has checked no upload is open. */
  async offer(offer: PutOfferMessage): Promise<UploadOutcome> {
    // A delta's signing left running (PROTOCOL.md §5.15.2) is its `finished`: what fails it ends the ref, as
    // a finish's would.
    const pending: Pending = {};
    await this.#offer(offer, pending);
    return { ...pending };
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
        await this.#dataArrived(active.transferId, message.length);
        await active.old.copyInto(active.partial, message, this);
        return NOTHING_PENDING;
      }
      case 'PUT_DATA': {
        const active = this.#expect(message.ref, message.type);
        if (active.kind === 'existing') return NOTHING_PENDING; // pipelined data for an existing file: the digest decides
        // Arrived data wins over a delta's old leaves placed while signing, and lands after them (LeafPlacing).
        if (active.kind === 'partial') await active.old?.arrive(message.offset, message.data.length);
        await this.#dataArrived(active.transferId, message.data.length);
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
          await joinedUpload.end(this.#io, active, message.fileDigest, this);
          return NOTHING_PENDING;
        }
        if (active.kind === 'existing') {
          await existingUpload.end(this.#io, active, message.fileDigest, () => this.files++);
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
  #endActive(): ActiveUpload | undefined {
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
      await this.#letGo(active.transferId);
    }
  }

  /** Waits for background finishes, then closes the receiving transfer and waits for every other close. */
  async close(): Promise<void> {
    await this.#finishing.allSettled();
    await this.closeActive();
    await this.#stages.allLeft();
  }

  /** The last step of a claimed transfer: its files closed or placed, the claim goes, then the stage. */
  #letGo(transferId: string): Promise<void> {
    this.#io.ctx.registry.release(transferId, this);
    this.#stages.leave(transferId);
    // Its promise of disk space was for this live transfer: it shrinks to what the partial holds (awaited by
    // a session's close, so the session ends with its promises settled).
    return this.#io.ctx.storage.settle(transferId).catch(() => undefined);
  }

  async #offer(offer: PutOfferMessage, pending: Pending): Promise<void> {
    // PROTOCOL.md §6.2: one transfer receives data at a time per session (the lane refuses a second offer).
    if (this.#active)
      throw new FerryError('INTERNAL', `PUT_OFFER while transfer ${this.#active.ref} is open`);
    const io = this.#io;
    try {
      checkUploadOffer(io, offer);
      const rooted = io.rooted(offer.path);
      if (offer.join) {
        const joinAt = transferIdOf(io.clientKey, rooted.join('/'));
        const joined = joinedUpload.open(io, { ...offer, join: offer.join }, joinAt);
        this.#active = joined;
        await joinedUpload.accept(io, joined);
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
        const objects = io.objectStore;
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
          await this.#offerPartial({ offer, target: key, transferId }, pending);
          return;
        }
        target = await uploadTarget(io, offer, rooted, this.#knownDirs);
        if (!target.exists || offer.overwrite)
          await this.#offerPartial(
            {
              offer,
              target,
              transferId,
              old: target.exists ? await DeltaOldFile.open(io, offer, target) : undefined,
            },
            pending,
          );
      } finally {
        // The claim's one owner: the open partial once there is one (closeActive or the finish lets it go,
        // after its files are closed), else this offer, here; not after hashing an existing file, which no
        // longer needs the claim.
        if (this.#stages.stageOf(transferId) === 'offering') await this.#letGo(transferId);
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

  /** Opens the partial of a transfer this session has claimed, and answers the offer. */
  async #offerPartial(opening: PartialUploadOffer, pending: Pending): Promise<void> {
    const { active, takenOver } = await openPartialUpload(this.#io, opening);
    pending.takenOver = takenOver;
    this.#active = active;
    // In the same step as #active: a takeover from now on takes this transfer over (`surrender`).
    this.#stages.enter(active.transferId, 'receiving');
    const { signing } = await acceptPartialUpload(this.#io, active);
    if (signing) pending.finished = signing;
  }

  /** PROTOCOL.md §5.4 EXISTING: the content is compared, never written (`existingUpload`). */
  async #offerExisting(offer: PutOfferMessage, at: ExistingAt, transferId: string): Promise<void> {
    const active = await existingUpload.open(this.#io, offer, at, transferId);
    this.#active = active;
    await existingUpload.accept(this.#io, active);
  }

  /**
   * Starts the finish once a slot is free and returns it (the session turns its failure into an ERROR for
   * the ref). The transfer is `ending` already (`#endActive`), so a takeover waits for the slot too.
   */
  async #finishInBackground(active: PartialUpload, expected: Buffer): Promise<UploadOutcome> {
    return await this.#finishing.start(async () => {
      try {
        await finishUpload(this.#io, active, expected, () => this.files++);
      } finally {
        await this.#letGo(active.transferId);
      }
    });
  }

  /**
   * Data of `transferId` arrived: its promise of disk lasts while its data flows, and is made again (or
   * refused DISK_FULL, before the bytes are written) when it returns after a stall (`StorageLimits.dataArrived`).
   */
  async #dataArrived(transferId: string, bytes: number): Promise<void> {
    const promised = this.#io.ctx.storage.dataArrived(transferId, bytes);
    if (promised) await promised;
  }

  #expect(ref: number, type: string): ActiveUpload {
    const active = this.#active;
    if (!active || active.ref !== ref)
      throw new FerryError('MESSAGE_UNEXPECTED', `${type} for ref ${ref}, which is not open`);
    return active;
  }
}
