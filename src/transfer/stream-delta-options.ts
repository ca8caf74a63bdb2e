import type { ChunkHashes, DeltaMatcher } from '../protocol/index.js';
import type { DeltaSink } from './delta-sink.js';
import type { LeafHashesAhead } from './leaf-hashes-ahead.js';
import type { ScanAhead } from './scan-ahead.js';
import type { UploadSignatureArrival } from './upload-signature-arrival.js';

/** What `streamDeltaChunks` sends, where to, and what it may take from the hashing ahead. */
export interface StreamDeltaOptions {
  chunkBytes: number;
  chunks: Iterator<number>;
  hashes: ChunkHashes;
  matcher: DeltaMatcher;
  sink: DeltaSink;
  signal?: AbortSignal | undefined;
  onChunk?: (index: number, chunkHash: Buffer, bytes: number) => void | Promise<void>;
  /** The file's leaf hashes taken while the signature arrived (`LeafHashesAhead`), used where they hold. */
  ahead?: LeafHashesAhead | undefined;
  /**
   * Hashes each chunk's window on the leaf hash thread as soon as it is read, at the phase of the last match
   * (the client's `ScanHashesAhead`: one policy for both directions' scans), while the chunk before it is
   * scanned here; undefined: the matcher hashes what it checks itself.
   */
  scanAhead?: ScanAhead | undefined;
  /**
   * With `arriving`, the matcher's signature is still arriving (its arrays at full size, filled in block
   * order, PROTOCOL.md §5.15.2): see `streamDeltaChunks`.
   */
  arriving?: UploadSignatureArrival | undefined;
}
