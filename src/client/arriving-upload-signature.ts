import { DeltaBlocksReceiver } from '../machines/index.js';
import { DeltaMatcher, type Message } from '../protocol/index.js';
import type { UploadSignatureArrival } from '../transfer/index.js';
import { ArrivedBlocks } from './arrived-blocks.js';

/**
 * A delta upload's signature as its DELTA_BLOCKS records arrive (PROTOCOL.md §5.15.2), through the
 * DeltaBlocksReceiver machine: once the first record is in, the rest is received in the background while the
 * chunks are scanned (`streamDeltaChunks` with `arriving`), each scan waiting for the blocks it needs, so the
 * client's scan runs beside the server's signing instead of after it (issue 16). `whole` settles once the
 * last record arrived, or with the failure that ended the receiving (a record that does not continue the
 * signature, another message of the ref, the ref closed); every wait then fails with it too.
 */
export class ArrivingUploadSignature implements UploadSignatureArrival {
  readonly totalBlocks: number;
  /** The matcher over the signature, looking for the blocks arrived so far (`DeltaMatcher.extend`). */
  readonly matcher: DeltaMatcher;
  /** Resolves once the signature is whole; rejects with what ended the receiving (always handled here). */
  readonly whole: Promise<void>;
  readonly #arrived: ArrivedBlocks;

  private constructor(
    receiver: DeltaBlocksReceiver,
    take: () => Promise<Message>,
    onEnd: () => Promise<void>,
  ) {
    const arrived = receiver.arrived!;
    this.totalBlocks = arrived.signature.weak.length;
    this.#arrived = new ArrivedBlocks(arrived.blocks);
    this.matcher = new DeltaMatcher(arrived.signature, undefined, arrived.blocks);
    this.whole = this.#receive(receiver, take).finally(onEnd);
    this.whole.catch(() => undefined); // reported through the waits and to whoever awaits `whole`
  }

  /**
   * Takes the first record of the signature with `take` (the ref's next message) and starts receiving the
   * rest; `onEnd` runs once the receiving ended, either way.
   */
  static async start(
    take: () => Promise<Message>,
    onEnd: () => Promise<void>,
  ): Promise<ArrivingUploadSignature> {
    const receiver = new DeltaBlocksReceiver();
    try {
      receiver.receive(await take());
    } catch (err) {
      await onEnd();
      throw err;
    }
    return new ArrivingUploadSignature(receiver, take, onEnd);
  }

  waitFor(blocks: number): Promise<number> {
    return this.#arrived.waitFor(Math.min(blocks, this.totalBlocks));
  }

  async #receive(receiver: DeltaBlocksReceiver, take: () => Promise<Message>): Promise<void> {
    try {
      while (receiver.state !== 'complete') {
        receiver.receive(await take());
        this.#arrived.arrived(receiver.arrived!.blocks);
      }
    } catch (err) {
      this.#arrived.fail(err);
      throw err;
    }
  }
}
