import type { SealPool, WalkedInode } from '../transfer/index.js';
import type { ClientSession } from './client-session.js';

/** How `uploadFile` and `beginUpload` send one file. */
export interface UploadOptions {
  /** Chunk size (PROTOCOL.md §5.3); defaults to 4 MiB. */
  chunkBytes?: number | undefined;
  overwrite?: boolean | undefined;
  /**
   * With `overwrite`: ask for the existing file's signature and send only what it lacks (PROTOCOL.md §5.15).
   * Taken for a file of at least 1 KiB (the smallest block); a file of one chunk then waits for the answer
   * instead of being pipelined.
   */
  delta?: boolean | undefined;
  /**
   * With `overwrite`: a remote directory at the path goes, with all it holds, when the file is placed, not
   * before (REPLACE_DIR, PROTOCOL.md §5.3; `ferry sync --delete`). Never with a delta.
   */
  replaceDir?: boolean | undefined;
  /**
   * With `replaceDir`: names that are not UTF-8 below the directory go too (NOT_UTF8, PROTOCOL.md §5.3);
   * without it the server keeps them and the replacement fails. `ferry sync` asks only without excludes.
   */
  replacesNotUtf8?: boolean | undefined;
  /** Called once a delta upload's chunks are sent: how many file bytes went as literals (PROTOCOL.md §5.15). */
  onDelta?: (info: { literalBytes: number; size: number }) => void;
  signal?: AbortSignal | undefined;
  /** Called when the server reports more verified, durable bytes (PROTOCOL.md §5.7). */
  onVerified?: (verifiedBytes: number, size: number) => void;
  /** Called once the server answered the offer: how much it already held, and whether it restarted. */
  onAccepted?: (info: { heldBytes: number; restarted: boolean; size: number }) => void;
  /** Directory for the chunk-hash cache that spares a resume from re-reading what the server holds. */
  cacheDir?: string | undefined;
  /** The file a tree's walk found at `localPath`: the name is not followed, and must still be it. */
  walked?: WalkedInode | undefined;
  /**
   * Opens (once) further sessions to the same server that carry chunks of large files in parallel
   * (PROTOCOL.md §5.13); called only for a file with at least two chunks to send.
   */
  extraStreams?: (() => Promise<readonly ClientSession[]>) | undefined;
  /** Files smaller than this use one stream; default PARALLEL_MIN_BYTES. */
  parallelMinBytes?: number | undefined;
  /** Worker threads that hash and seal the data (issue 14); without it the event loop does it all. */
  sealPool?: SealPool | undefined;
}

/**
 * Files from this size on travel over the extra streams: below it a single connection finishes before
 * more connections would have paid for their handshakes.
 */
export const PARALLEL_MIN_BYTES = 64 * 1024 * 1024;
