import { randomBytes, timingSafeEqual } from 'node:crypto';
import { FerryError } from '../errors/index.js';
import { JOIN_TOKEN_BYTES } from '../protocol/index.js';
import type { PartialTransfer } from '../transfer/index.js';
import type { CoordinationBudget } from './coordination-budget.js';
import { LocalTransferOwnership, type OwnershipClaim, type TransferOwnership } from './transfer-ownership.js';

/** The partial a holder receives and the token a joined stream must present for it (PROTOCOL.md §5.13.2). */
export interface JoinTarget {
  readonly partial: PartialTransfer;
  readonly token: Buffer;
}

/** A session's handle on a transfer it writes: how to make it let go. */
export interface TransferClaim {
  /**
   * Ends the holder's use of `transferId` and resolves once it no longer touches the transfer's files: a
   * transfer still receiving is closed (its partial kept), one already finishing is waited for.
   */
  surrender(transferId: string): Promise<void>;
  /** The open partial of `transferId` and its join token, when the holder is receiving it (§5.13.2). */
  joinTargetOf(transferId: string): JoinTarget | undefined;
  /**
   * The holder's session number on this server (SessionEvents.sessionId; 0 when unknown). A claim never
   * takes a transfer from a newer session's holder (see TransferRegistry.claim).
   */
  readonly sessionSeq?: number;
}

/** How many placed files `recordPlaced` remembers (about 100 bytes each). */
const MAX_PLACED_REMEMBERED = 10_000;

/**
 * Enforces "at most one writer per transfer" (PROTOCOL.md §6.2). A newer claim takes the transfer over:
 * the older holder is told to surrender and is waited for, so its partial files are closed before the
 * new holder opens them. Across servers sharing one store, `ownership` (etcd in a cluster) does the same
 * between servers: a claim here also holds the transfer there, and a takeover from another server makes
 * the local holder surrender.
 */
export class TransferRegistry {
  readonly #holders = new Map<string, TransferClaim>();
  /** The client key of each held transfer that was claimed with one (a transfer id is one client's). */
  readonly #clients = new Map<string, Buffer>();
  readonly #random: (bytes: number) => Uint8Array;
  /** Files placed by a finished transfer: transfer id -> the file's identity (SourceFile.identity). */
  readonly #placed = new Map<string, Buffer>();
  readonly #ownership: TransferOwnership;
  /** Pays the coordination service's requests per client (a cluster only). */
  readonly #budget: CoordinationBudget | undefined;
  /** The cross-server hold of each held transfer (the local holder's). */
  readonly #owned = new Map<string, { claim: TransferClaim; owned: OwnershipClaim }>();

  /**
   * `random` makes join tokens: the system CSPRNG unless a test injects one. `ownership`: who writes a
   * transfer across servers (default: this server alone); `budget` pays its requests per client.
   */
  constructor(
    options: {
      random?: (bytes: number) => Uint8Array;
      ownership?: TransferOwnership;
      budget?: CoordinationBudget;
    } = {},
  ) {
    this.#random = options.random ?? randomBytes;
    this.#ownership = options.ownership ?? new LocalTransferOwnership();
    this.#budget = options.budget;
  }

  /** A fresh join token for a transfer whose PUT_ACCEPT is about to go out (PROTOCOL.md §5.13.2). */
  newJoinToken(): Buffer {
    const token = Buffer.from(this.#random(JOIN_TOKEN_BYTES));
    if (token.length !== JOIN_TOKEN_BYTES) throw new Error(`the random source gave ${token.length} bytes`);
    return token;
  }

  /**
   * Claims `transferId` for `claim`, first making any other holder surrender: a session of this server,
   * then another server (through the ownership port, which resolves once that server let go). Rejects
   * with SERVER_BUSY when the other servers cannot be asked (the coordination service is unreachable).
   * `clientKey` (the claiming client's) pays the coordination service's requests from the budget; a wait for
   * it ends once `signal` (the claiming connection's) aborts.
   */
  async claim(
    transferId: string,
    claim: TransferClaim,
    clientKey?: Buffer,
    signal?: AbortSignal,
  ): Promise<void> {
    for (;;) {
      const current = this.#holders.get(transferId);
      if (current === undefined || current === claim) break;
      // Newer takes over older (§6.2), by when the sessions began, not by when they claimed: a cut session
      // still settling a batch it had fully received must not take a file back from the client's retry.
      if ((claim.sessionSeq ?? 0) > 0 && (current.sessionSeq ?? 0) > (claim.sessionSeq ?? 0))
        throw new FerryError('TRANSFER_TAKEN_OVER', 'a newer session of this client holds this transfer');
      await current.surrender(transferId);
      // Its surrender released the claim; loop in case a third session claimed it meanwhile.
      if (this.#holders.get(transferId) === current) this.#holders.delete(transferId);
    }
    this.#holders.set(transferId, claim);
    if (clientKey) this.#clients.set(transferId, clientKey);
    if (this.#owned.get(transferId)?.claim === claim) return;
    let owned: OwnershipClaim;
    try {
      owned = await this.#ownership.acquire(
        transferId,
        () => {
          // Another server took it over (or our lease lapsed): stop writing, then let it go there.
          claim.surrender(transferId).then(
            () => this.release(transferId, claim),
            () => this.release(transferId, claim),
          );
        },
        clientKey && this.#budget?.paymentFor(clientKey, signal),
        signal,
      );
    } catch (err) {
      if (this.#holders.get(transferId) === claim) this.#holders.delete(transferId);
      if (!this.#holders.has(transferId)) this.#clients.delete(transferId);
      throw err;
    }
    if (this.#holders.get(transferId) !== claim) {
      // Surrendered to a newer local session while waiting: that one claims the transfer itself.
      void owned.release();
      return;
    }
    this.#owned.set(transferId, { claim, owned });
  }

  /** Releases the claim if `claim` holds it (here and, in a cluster, across servers). */
  release(transferId: string, claim: TransferClaim): void {
    if (this.#holders.get(transferId) === claim) this.#holders.delete(transferId);
    if (!this.#holders.has(transferId)) this.#clients.delete(transferId);
    const owned = this.#owned.get(transferId);
    if (owned?.claim === claim) {
      this.#owned.delete(transferId);
      void owned.owned.release();
    }
  }

  /**
   * The open partial of `transferId`, for a stream joining it with `token` (PROTOCOL.md §5.13.2): undefined
   * unless some session is receiving it and `token` is the one its PUT_ACCEPT issued, compared in constant
   * time. A wrong token and no transfer look the same to the caller.
   */
  joinable(transferId: string, token: Uint8Array): PartialTransfer | undefined {
    const target = this.#holders.get(transferId)?.joinTargetOf(transferId);
    if (target === undefined || token.length !== target.token.length) return undefined;
    return timingSafeEqual(target.token, token) ? target.partial : undefined;
  }

  /** The key of the client whose session holds `transferId` (who pays its store's part loads), if any. */
  clientOf(transferId: string): Buffer | undefined {
    return this.#clients.get(transferId);
  }

  /** Whether any session holds `transferId` (the partial sweeper leaves those alone). */
  isHeld(transferId: string): boolean {
    return this.#holders.has(transferId);
  }

  /**
   * Remembers that transfer `transferId` (one client, one path) placed the file whose identity is
   * `identity`, so that client may be told, even without download permission, that a retry of the same
   * upload found its own file in place (PROTOCOL.md §5.4). Bounded: the oldest are forgotten first.
   */
  recordPlaced(transferId: string, identity: Buffer): void {
    this.#placed.delete(transferId);
    this.#placed.set(transferId, identity);
    if (this.#placed.size > MAX_PLACED_REMEMBERED) this.#placed.delete(this.#placed.keys().next().value!);
  }

  /** Whether the file with `identity` is, unchanged, the one transfer `transferId` placed. */
  placedIt(transferId: string, identity: Buffer): boolean {
    return this.#placed.get(transferId)?.equals(identity) ?? false;
  }

  get size(): number {
    return this.#holders.size;
  }
}
