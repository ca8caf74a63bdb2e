// Who writes a transfer right now, across every server that shares one store (PROTOCOL.md §6.2: at most
// one writer per transfer; docs/ARCHITECTURE.md, "Coordination"). TransferRegistry keeps the rule among
// one server's sessions; this port keeps it among servers.
import type { ClaimPayment } from './coordination-budget.js';

/** A server's hold on one transfer, until released or taken over. */
export interface OwnershipClaim {
  /** Lets the transfer go (after the holder stopped writing it), so a waiting server can take it. */
  release(): Promise<void>;
}

export interface TransferOwnership {
  /**
   * Claims `transferId` for this server. When another server holds it, that server is asked to let go
   * and this resolves only once it has (or its lease ran out), so the two never write it at once.
   * `onLost` is called, at most once, when this claim is taken over by another server or can no longer
   * be vouched for (the lease could not be kept alive): the holder must stop writing and then release.
   * Rejects with SERVER_BUSY (retryable) when the coordination service cannot be reached: fail closed.
   * `payment`, when given, is paid before the requests the claim makes (CoordinationBudget: the claim's own,
   * each takeover round's). `signal` (the claiming connection's) ends a wait for another server: the claim
   * rejects with its reason and withdraws its takeover request, so a client that hung up neither keeps a
   * session waiting nor keeps asking the holder to let go.
   */
  acquire(
    transferId: string,
    onLost: () => void,
    payment?: ClaimPayment,
    signal?: AbortSignal,
  ): Promise<OwnershipClaim>;
  /** Lets every claim go and stops talking to the coordination service. */
  close(): Promise<void>;
}

const NOTHING_HELD: OwnershipClaim = { release: () => Promise.resolve() };

/**
 * One server alone: the registry's own map is the whole rule, so every claim is granted at once and
 * never taken over from outside.
 */
export class LocalTransferOwnership implements TransferOwnership {
  acquire(): Promise<OwnershipClaim> {
    return Promise.resolve(NOTHING_HELD);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
