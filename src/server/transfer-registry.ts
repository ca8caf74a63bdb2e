import type { PartialTransfer } from '../transfer/index.js';

/** A session's handle on a transfer it writes: how to make it let go. */
export interface TransferClaim {
  /**
   * Ends the holder's use of `transferId` and resolves once it no longer touches the transfer's files: a
   * transfer still receiving is closed (its partial kept), one already finishing is waited for.
   */
  surrender(transferId: string): Promise<void>;
  /** The open partial of `transferId`, when the holder is receiving it (joined streams write into it). */
  partialOf(transferId: string): PartialTransfer | undefined;
}

/** How many placed files `recordPlaced` remembers (about 100 bytes each). */
const MAX_PLACED_REMEMBERED = 10_000;

/**
 * Enforces "at most one writer per transfer" (PROTOCOL.md §6.2). A newer claim takes the transfer over:
 * the older holder is told to surrender and is waited for, so its partial files are closed before the
 * new holder opens them.
 */
export class TransferRegistry {
  readonly #holders = new Map<string, TransferClaim>();
  /** Files placed by a finished transfer: transfer id -> the file's identity (SourceFile.identity). */
  readonly #placed = new Map<string, Buffer>();

  /** Claims `transferId` for `claim`, first making any other holder surrender. */
  async claim(transferId: string, claim: TransferClaim): Promise<void> {
    for (;;) {
      const current = this.#holders.get(transferId);
      if (current === undefined || current === claim) break;
      await current.surrender(transferId);
      // Its surrender released the claim; loop in case a third session claimed it meanwhile.
      if (this.#holders.get(transferId) === current) this.#holders.delete(transferId);
    }
    this.#holders.set(transferId, claim);
  }

  /** Releases the claim if `claim` holds it. */
  release(transferId: string, claim: TransferClaim): void {
    if (this.#holders.get(transferId) === claim) this.#holders.delete(transferId);
  }

  /** The open partial of `transferId` held by any session, for a stream joining it (PROTOCOL.md §5.13). */
  partialOf(transferId: string): PartialTransfer | undefined {
    return this.#holders.get(transferId)?.partialOf(transferId);
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
