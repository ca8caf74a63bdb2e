/**
 * What one session is doing with a transfer it claims (PROTOCOL.md §6.2): `offering` from just before its
 * claim until its partial is open, `receiving` while the partial is the session's open upload, `ending` from
 * the moment it stops being the open upload (PUT_END, CANCEL, a takeover, the session's end) until its files
 * are closed or placed and its claim let go.
 */
export type TransferStage = 'offering' | 'receiving' | 'ending';

interface Entry {
  readonly stage: TransferStage;
  /** Resolves when this stage is over (the next one entered, or the transfer left). */
  readonly over: Promise<void>;
  readonly end: () => void;
}

/**
 * One session's claimed transfers by stage: the one place a takeover (`UploadReceiver.surrender`) and a new
 * offer of the same transfer learn what the transfer is doing now. The receiver changes a stage in the same
 * synchronous step as what it names (the open upload set or cleared), so there is no `await` between the two
 * in which a takeover could find nothing to wait for (closing-24: a close one `await` before it was
 * registered, a finish waiting for a free slot before it was).
 */
export class TransferStages {
  readonly #byId = new Map<string, Entry>();

  /** The stage of `transferId`, or undefined when this session neither claims nor touches it. */
  stageOf(transferId: string): TransferStage | undefined {
    return this.#byId.get(transferId)?.stage;
  }

  /** `transferId` enters `stage`, ending the stage it was in. */
  enter(transferId: string, stage: TransferStage): void {
    this.#byId.get(transferId)?.end();
    let end = (): void => undefined;
    const over = new Promise<void>((resolve) => (end = resolve));
    this.#byId.set(transferId, { stage, over, end });
  }

  /** The session is done with `transferId`: its files closed or placed and its claim let go. */
  leave(transferId: string): void {
    this.#byId.get(transferId)?.end();
    this.#byId.delete(transferId);
  }

  /** Resolves once the current stage of `transferId` is over (at once when it has none). */
  async changed(transferId: string): Promise<void> {
    await this.#byId.get(transferId)?.over;
  }

  /** Resolves once this session has left `transferId`, through whatever stages it still goes. */
  async left(transferId: string): Promise<void> {
    while (this.#byId.has(transferId)) await this.changed(transferId);
  }

  /** Resolves once every transfer held now has been left. */
  async allLeft(): Promise<void> {
    await Promise.all([...this.#byId.keys()].map((transferId) => this.left(transferId)));
  }
}
