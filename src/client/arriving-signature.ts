import { ArrivedBlocks } from './arrived-blocks.js';
import type { SignatureArrival } from './delta-download.js';

/**
 * A delta download's signature as its records arrive (`SignatureArrival`), fed by the loop that receives
 * them: how many blocks are in, then the digest, or the failure that ended the answer.
 */
export class ArrivingSignature implements SignatureArrival {
  readonly #arrived = new ArrivedBlocks();
  #digest: Buffer | undefined;
  #ended: Array<{ resolve: (digest: Buffer) => void; reject: (err: unknown) => void }> = [];

  /** The records so far hold `blocks` blocks. */
  arrived(blocks: number): void {
    this.#arrived.arrived(blocks);
  }

  /** GET_END: the signature is whole (its last record arrived before), with the file digest. */
  end(digest: Buffer): void {
    this.#digest = digest;
    this.#settle();
  }

  /** The answer failed: every wait fails with `err`. */
  fail(err: unknown): void {
    this.#arrived.fail(err);
    this.#settle();
  }

  waitFor(blocks: number): Promise<number> {
    return this.#arrived.waitFor(blocks);
  }

  digest(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#ended.push({ resolve, reject });
      this.#settle();
    });
  }

  /** Answers the digest's waits once the signature ended or failed. */
  #settle(): void {
    const { failed, error } = this.#arrived.failure;
    if (failed) for (const wait of this.#ended) wait.reject(error);
    else if (this.#digest !== undefined) for (const wait of this.#ended) wait.resolve(this.#digest);
    else return;
    this.#ended = [];
  }
}
