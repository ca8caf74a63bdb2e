import type { DeltaMatcher, DeltaScan, KnownLeafHash } from '../protocol/index.js';

/** One window of the old file to scan: `bytes` hold its file bytes from `from`. */
export interface ScanWindow {
  readonly bytes: Buffer;
  readonly from: number;
  /** Where scans may start up to (exclusive); `bytes` hold a leaf more, for a match across it. */
  readonly to: number;
  /** True when `bytes` reach the old file's end. */
  readonly atEnd: boolean;
  /** Leaf hashes taken over these very bytes (the store's, or hashed ahead), if any. */
  readonly known: KnownLeafHash | undefined;
}

/**
 * Scans one window of a delta download's old file (`DeltaMatcher.scan`) with its `known` leaf hashes, which
 * the matcher uses for this window only: they stand for these bytes, not for the next read into the buffer.
 */
export function scanWindow(matcher: DeltaMatcher, window: ScanWindow): DeltaScan {
  matcher.useKnownLeafHashes(window.known);
  try {
    return matcher.scan(window.bytes, window.from, window.from, window.to, window.atEnd);
  } finally {
    matcher.useKnownLeafHashes(undefined);
  }
}
