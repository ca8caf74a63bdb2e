import { ChunkHasher, ChunkHashes } from '../protocol/index.js';
import type { ChunkEntry } from './chunk-log.js';
import type { StoredPartialReader, TransferHeader } from './partial-store.js';

/** Re-hashing reads at most this much at a time, whatever the chunk size. */
const READ_BYTES = 1024 * 1024;

/**
 * The logged chunks whose bytes still hash right (PROTOCOL.md §9.2): a log is checked, not trusted, since
 * the bytes may have changed behind ferry's back (or the log lies). Reads each chunk back through the
 * store, so the same check holds for every store. The last entry of a chunk wins; an entry past the
 * file's end is dropped.
 */
export async function verifyLoggedChunks(
  reader: StoredPartialReader,
  logged: readonly ChunkEntry[],
  header: TransferHeader,
): Promise<ChunkEntry[]> {
  const latest = new ChunkHashes(header.size, header.chunkBytes);
  for (const entry of logged) if (entry.index < latest.count) latest.set(entry.index, entry.hash);
  const buffer = Buffer.allocUnsafe(Math.min(header.chunkBytes, READ_BYTES));
  const kept: ChunkEntry[] = [];
  for (const { index, hash } of latest.entries()) {
    const length = latest.lengthOf(index);
    const hasher = new ChunkHasher();
    let done = 0;
    while (done < length) {
      const into = buffer.subarray(0, Math.min(buffer.length, length - done));
      const bytesRead = await reader.read(index * header.chunkBytes + done, into);
      if (bytesRead === 0) break;
      hasher.update(into.subarray(0, bytesRead));
      done += bytesRead;
    }
    if (done === length && hasher.digest().equals(hash)) kept.push({ index, hash });
  }
  return kept;
}
