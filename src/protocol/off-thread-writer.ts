// Which thread may write received file data (issue 14): a receive block's data may be written by the pool
// whose workers opened it, straight from the block (shared memory), without the event loop or libuv's pool.
// Keyed by the block's memory, like its leaf hints (`leaf-hints.ts`) and its lease (`received-leases.ts`).

/**
 * Writes file data that lies in receive blocks on another thread (a `SealPool` worker's positional write,
 * issue 14), so neither the event loop nor libuv's pool copies it into the page cache. Resolves once every
 * byte landed in the file (not durably); rejects with the write's error (its `code`, as `fs` gives).
 */
export interface OffThreadWriter {
  writev(fd: number, buffers: readonly Uint8Array[], position: number): Promise<void>;
}

/** The writer of each block leased out with one (`landOffThread`): the opener whose workers opened it. */
const writers = new WeakMap<ArrayBufferLike, OffThreadWriter>();

/** The file data handed out of `block` may be written by `writer`'s threads (`offThreadWriterOf`). */
export function landOffThread(block: SharedArrayBuffer, writer: OffThreadWriter): void {
  writers.set(block, writer);
}

/**
 * The one writer that may write all of `buffers` (each a view of a receive block leased with one), or
 * undefined: anything else (another buffer, blocks of two writers) is written on the event loop's side.
 */
export function offThreadWriterOf(buffers: readonly Uint8Array[]): OffThreadWriter | undefined {
  const writer = buffers.length > 0 ? writers.get(buffers[0]!.buffer) : undefined;
  if (writer === undefined) return undefined;
  for (const buffer of buffers) if (writers.get(buffer.buffer) !== writer) return undefined;
  return writer;
}

/** `block` is about to hold other bytes: whoever may write them is said anew (`landOffThread`). */
export function forgetOffThreadWriter(block: ArrayBufferLike): void {
  writers.delete(block);
}
