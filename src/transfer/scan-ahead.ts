import type { KnownLeafHash } from '../protocol/index.js';

/**
 * Leaf hashes of a scan's window taken off the scanning thread (src/client/scan-hashes-ahead.ts): `start`
 * over a window read into shared memory, `follow` with the offsets a scan matched at, `phase` the offset mod
 * LEAF_BYTES it hashes at now (undefined while it hashes nothing).
 */
export interface ScanAhead {
  start(piece: Buffer, at: number, before: number): Promise<KnownLeafHash | undefined>;
  follow(offsets: readonly number[]): void;
  readonly phase: number | undefined;
}
