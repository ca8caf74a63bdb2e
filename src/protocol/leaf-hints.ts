import { Buffer } from 'node:buffer';

/**
 * Leaf hashes computed ahead, off the event loop (issue 14's receive pool), for received plaintext that sits
 * in a block of memory no one writes after: keyed by that memory and the byte position where the leaf
 * starts. `ChunkHasher.update` takes a known leaf's hash instead of hashing its bytes again. Notes come from
 * the channel (over bytes it hands out unchanged) and from the delta paths (a leaf the matcher hashed in a
 * read window no one writes after: `delta-streamer.ts`, `delta-download.ts`), always over whole leaves and
 * only for the very bytes then written or hashed, so a leaf's hash is always the hash of those bytes; memory
 * never noted (every other buffer) costs one failed lookup per leaf.
 */
const known = new WeakMap<ArrayBufferLike, Map<number, Buffer>>();

/** Notes that the leaf starting at byte `at` of `memory` has the RFC 6962 leaf hash `hash`. */
export function noteLeafHash(memory: ArrayBufferLike, at: number, hash: Buffer): void {
  let leaves = known.get(memory);
  if (leaves === undefined) known.set(memory, (leaves = new Map<number, Buffer>()));
  leaves.set(at, hash);
}

/** The hash noted for the leaf starting at `view[at]`, forgotten as it is taken; undefined if none. */
export function takeLeafHash(view: Uint8Array, at: number): Buffer | undefined {
  const leaves = known.get(view.buffer);
  if (leaves === undefined) return undefined;
  const position = view.byteOffset + at;
  const hash = leaves.get(position);
  if (hash !== undefined) leaves.delete(position);
  return hash;
}

/** Forgets every hash noted in `memory`: it is about to hold other bytes (a reused receive block). */
export function forgetLeafHashes(memory: ArrayBufferLike): void {
  known.delete(memory);
}
