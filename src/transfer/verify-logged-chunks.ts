import { ChunkHasher, ChunkHashes } from '../protocol/index.js';
import type { ChunkEntry } from './chunk-log.js';
import type { StoredPartialReader, TransferHeader } from './partial-store.js';

/** Re-hashing reads at most this much at a time, whatever the chunk size. */
const READ_BYTES = 1024 * 1024;

/**
 * The logged chunks a resumed partial holds, by one policy for every side and store (PROTOCOL.md §9.2):
 * when the store shows the partial unchanged since it was closed cleanly, the log is trusted as it stands
 * (its entries were verified when they were received, and the bytes have not changed since); otherwise,
 * and on any doubt, every entry is re-hashed from the stored bytes (`verifyLoggedChunks`).
 */
export async function heldLoggedChunks(
  found: { readonly logged: readonly ChunkEntry[]; readonly unchangedSinceClose: boolean },
  reader: StoredPartialReader,
  header: TransferHeader,
): Promise<ChunkEntry[]> {
  if (!found.unchangedSinceClose) return verifyLoggedChunks(reader, found.logged, header);
  return [...latestEntries(found.logged, header).entries()];
}

/** The last entry of each chunk within the file; entries past its end are dropped. */
function latestEntries(logged: readonly ChunkEntry[], header: TransferHeader): ChunkHashes {
  const latest = new ChunkHashes(header.size, header.chunkBytes);
  for (const entry of logged) if (entry.index < latest.count) latest.set(entry.index, entry.hash);
  return latest;
}

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
  const latest = latestEntries(logged, header);
  // Two buffers: the next piece is read while the current one is hashed (issue 14: one after the other,
  // the reads were ~15 % of a resume's re-verification, time the client spends waiting).
  const pieceBytes = Math.min(header.chunkBytes, READ_BYTES);
  const buffers = [Buffer.allocUnsafe(pieceBytes), Buffer.allocUnsafe(pieceBytes)];
  const pieces: Array<{ index: number; offset: number; length: number }> = [];
  for (const { index } of latest.entries()) {
    const length = latest.lengthOf(index);
    for (let done = 0; done < length; done += pieceBytes)
      pieces.push({
        index,
        offset: index * header.chunkBytes + done,
        length: Math.min(pieceBytes, length - done),
      });
  }
  // A store may return less than asked: the rest is asked for until the end of the data.
  const readFull = async (offset: number, into: Buffer): Promise<Buffer> => {
    let n = 0;
    while (n < into.length) {
      const bytesRead = await reader.read(offset + n, into.subarray(n));
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return into.subarray(0, n);
  };
  const readPiece = (k: number): Promise<Buffer | undefined> => {
    const piece = pieces[k];
    if (!piece) return Promise.resolve(undefined);
    return readFull(piece.offset, buffers[k % 2]!.subarray(0, piece.length));
  };
  const kept: ChunkEntry[] = [];
  const hasher = new ChunkHasher();
  let reading = readPiece(0);
  let chunkDone = 0;
  let short = false;
  for (let k = 0; k < pieces.length; k++) {
    const { index, length } = pieces[k]!;
    const bytes = (await reading)!;
    // Started before this piece is hashed; it fills the other buffer.
    reading = readPiece(k + 1);
    if (bytes.length < length) short = true;
    hasher.update(bytes);
    chunkDone += bytes.length;
    if (pieces[k + 1]?.index === index) continue;
    const hash = latest.get(index)!;
    if (!short && chunkDone === latest.lengthOf(index) && hasher.digest().equals(hash))
      kept.push({ index, hash });
    hasher.reset();
    chunkDone = 0;
    short = false;
  }
  await reading;
  return kept;
}
