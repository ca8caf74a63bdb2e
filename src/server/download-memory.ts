/**
 * Bytes the downloads of one client, over all its sessions, may hold in blocks sealed on the server's threads
 * beyond each stream's first (`PooledChunkSink.memory`; a block is about 2 MiB, its plaintext and its sealed
 * records): 64 blocks, the whole window of four streams at 4 threads (13 each) and more than the workers
 * can keep busy (3 blocks a thread), so a `get --streams 16` loses no speed while it shares them.
 */
export const DOWNLOAD_MEMORY_PER_CLIENT_BYTES = 128 * 1024 * 1024;
/**
 * Bytes all downloads may hold so, together (256 blocks): a client that stops reading keeps its blocks until
 * its socket drains, and 1024 stalled sessions held 26-30 GiB before any bound (docs/SECURITY.md, stop 34).
 */
export const DOWNLOAD_MEMORY_TOTAL_BYTES = 512 * 1024 * 1024;

/** The defaults of `ServeOptions.downloadMemory` (a `PartMemory`: per client and in total, never waiting). */
export const DOWNLOAD_MEMORY = Object.freeze({
  perClientBytes: DOWNLOAD_MEMORY_PER_CLIENT_BYTES,
  totalBytes: DOWNLOAD_MEMORY_TOTAL_BYTES,
});
