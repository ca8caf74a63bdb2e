// Upload messages for raw-session tests whose content does not matter: an offer of a one-byte file and a
// batch entry carrying a short text (PROTOCOL.md §5.5, §5.14).
import { chunkHashOf, fileDigest, type BatchEntry, type Message } from '../../src/protocol/index.js';

export const SMALL_CHUNK_BYTES = 64 * 1024;
const MTIME_MS = 1_700_000_000_000;

/** A PUT_OFFER of a one-byte file at `path`, replacing any there. */
export function oneByteOffer(ref: number, path: string): Message {
  return {
    type: 'PUT_OFFER',
    ref,
    size: 1,
    mtimeMs: MTIME_MS,
    chunkBytes: SMALL_CHUNK_BYTES,
    mode: 0o644,
    overwrite: true,
    fresh: false,
    path,
  };
}

/** A batch entry whose data is `text` (default: a line naming `path`), with its digest. */
export function smallBatchEntry(path: string, text = `content of ${path}\n`): BatchEntry {
  const data = Buffer.from(text);
  return {
    size: data.length,
    mtimeMs: MTIME_MS,
    mode: 0o644,
    fileDigest: fileDigest(data.length, SMALL_CHUNK_BYTES, [chunkHashOf(data)]),
    path,
    data,
  };
}
