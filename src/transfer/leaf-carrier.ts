import { LEAF_BYTES, forgetLeafHashes, noteLeafHash } from '../protocol/index.js';

/**
 * Zeros that stand for whole leaves already in a partial, each carrying its leaf's hash as a hint
 * (`noteLeafHash`): the chunk hasher takes the hashes ready-made, so leaves placed earlier are checked and
 * hashed by the rules without their bytes being read again. Made on first need, grown as needed, never
 * written anywhere.
 */
export class LeafCarrier {
  #zeros: Buffer | undefined;

  /** Calls `use` with a carrier of `leafHashes`' leaves; their hints are forgotten once it returns or throws. */
  carry<T>(leafHashes: readonly Buffer[], use: (carrier: Buffer) => T): T {
    const bytes = leafHashes.length * LEAF_BYTES;
    if (this.#zeros === undefined || this.#zeros.length < bytes) this.#zeros = Buffer.alloc(bytes);
    const carrier = this.#zeros.subarray(0, bytes);
    try {
      leafHashes.forEach((hash, i) =>
        noteLeafHash(carrier.buffer, carrier.byteOffset + i * LEAF_BYTES, Buffer.from(hash)),
      );
      return use(carrier);
    } finally {
      // A hint left by a refusal must not stand for other bytes later.
      forgetLeafHashes(carrier.buffer);
    }
  }
}
