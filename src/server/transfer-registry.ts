import { FerryError } from '../errors/index.js';

/**
 * Enforces "at most one writer per transfer" (PROTOCOL.md §6.2): the first session to claim a transfer
 * keeps it until it releases it; a second one is refused with TRANSFER_BUSY (retryable), so a client
 * that lost its connection can resume as soon as the server has noticed the old session is gone.
 */
export class TransferRegistry {
  readonly #owners = new Map<string, object>();

  /** Claims `transferId` for `owner`; throws TRANSFER_BUSY if another owner holds it. */
  claim(transferId: string, owner: object): void {
    const current = this.#owners.get(transferId);
    if (current !== undefined && current !== owner) throw new FerryError('TRANSFER_BUSY');
    this.#owners.set(transferId, owner);
  }

  /** Releases the claim if `owner` holds it. */
  release(transferId: string, owner: object): void {
    if (this.#owners.get(transferId) === owner) this.#owners.delete(transferId);
  }

  get size(): number {
    return this.#owners.size;
  }
}
