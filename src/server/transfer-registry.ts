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

/**
 * Enforces "at most one writer per transfer" (PROTOCOL.md §6.2). A newer claim takes the transfer over:
 * the older holder is told to surrender and is waited for, so its partial files are closed before the
 * new holder opens them.
 */
export class TransferRegistry {
  readonly #holders = new Map<string, TransferClaim>();

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

  get size(): number {
    return this.#holders.size;
  }
}
