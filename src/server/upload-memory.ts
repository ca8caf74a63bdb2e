/**
 * Bytes the uploads of one client, over all its sessions, may hold received and not yet written (the pages
 * of receive blocks or opened records written, from the socket through the workers, the queue and the
 * writer's batches until the data is in the file; `ReceiveBudget`): a session at full speed holds about
 * 20 MiB with threads (5 blocks with the workers and waiting, the writer's 8 MiB in flight and 1 MiB batch),
 * about 10 without, so six streams of one client keep their whole window.
 */
export const UPLOAD_MEMORY_PER_CLIENT_BYTES = 128 * 1024 * 1024;
/**
 * Bytes all uploads may hold so, together: under a slow disk each session held 21-27 MiB, bounded by
 * sessions only (32 a key, 1,024 in all: about 0.8 and 27 GiB; docs/SECURITY.md, stop 38).
 */
export const UPLOAD_MEMORY_TOTAL_BYTES = 512 * 1024 * 1024;

/**
 * The defaults of `ServeOptions.uploadMemory` (a `PartMemory`: per client and in total, never waiting: a
 * session past its share stops reading its socket until its own data is written).
 */
export const UPLOAD_MEMORY = Object.freeze({
  perClientBytes: UPLOAD_MEMORY_PER_CLIENT_BYTES,
  totalBytes: UPLOAD_MEMORY_TOTAL_BYTES,
});
