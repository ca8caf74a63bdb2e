/**
 * What the session learns from an upload step besides its errors (`UploadReceiver` never calls back into
 * the session): how the transfer may still end after the step returned.
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
