/**
 * The entries one session's batches claimed (PROTOCOL.md §6.2, one writer per file): before their batch is
 * placing, `undefined` (a newer session's claim takes the entry, which is then refused TRANSFER_TAKEN_OVER);
 * once placing, the placement, which a newer claim waits for. No registry here: `release` lets go of an
 * entry's claim there.
 */
export class BatchClaims {
  readonly #claims = new Map<string, Promise<void> | undefined>();
  readonly #takenOver = new Set<string>();
  readonly #release: (transferId: string) => void;

  constructor(release: (transferId: string) => void) {
    this.#release = release;
  }

  /** The registry gave this session `transferId`; its batch is not placing yet. */
  claimed(transferId: string): void {
    this.#claims.set(transferId, undefined);
  }

  /** A newer session of this client wants an entry's file (TransferRegistry.claim). */
  async surrender(transferId: string): Promise<void> {
    if (!this.#claims.has(transferId)) return;
    const placing = this.#claims.get(transferId);
    if (placing) return placing;
    // Not placing yet: the entry lets go at once (so two sessions never wait on each other) and is refused.
    this.#takenOver.add(transferId);
    this.#claims.delete(transferId);
    this.#release(transferId);
  }

  /** True if a newer session took `transferId` over since it was claimed (and forgets that it did). */
  tookOver(transferId: string): boolean {
    return this.#takenOver.delete(transferId);
  }

  /** The entry is placing from here on: a newer claim waits for `placement`. */
  placing(transferId: string, placement: Promise<void>): void {
    this.#claims.set(transferId, placement);
  }

  /** The batch of `placement` is done with (placed, or dropped): the claims of its entries go. */
  released(claimed: readonly string[], placement: Promise<void>): void {
    for (const transferId of claimed) {
      this.#takenOver.delete(transferId);
      if (this.#claims.get(transferId) === placement || this.#claims.get(transferId) === undefined) {
        this.#claims.delete(transferId);
        this.#release(transferId);
      }
    }
  }
}
