import { ChunkHashes, DeltaMatcher, LEAF_BYTES, deltaSignatureOf } from '../../src/protocol/index.js';
import { streamDeltaChunks, type ChunkSource, type LeafHashesAhead } from '../../src/transfer/index.js';

/** What a delta upload's chunks streamed as: each piece as text, in order, and the chunk hashes. */
export interface DeltaStreamPieces {
  readonly pieces: string[];
  readonly hashes: ChunkHashes;
}

/**
 * Every chunk of `source` (chunks of `chunkBytes`) streamed against the leaf signature of `old`
 * (`streamDeltaChunks`, optionally with the leaves hashed `ahead`), each piece sent noted as text: `copy
 * OFFSET+LENGTH@OLDOFFSET`, `data OFFSET+LENGTH`, `chunk INDEX`.
 */
export async function deltaStreamPieces(
  source: ChunkSource,
  old: Buffer,
  chunkBytes: number,
  ahead?: LeafHashesAhead,
): Promise<DeltaStreamPieces> {
  const hashes = new ChunkHashes(source.size, chunkBytes);
  const pieces: string[] = [];
  const note = (piece: string): Promise<void> => {
    pieces.push(piece);
    return Promise.resolve();
  };
  await streamDeltaChunks(source, {
    chunkBytes,
    chunks: Array.from({ length: hashes.count }, (_, i) => i)[Symbol.iterator](),
    hashes,
    matcher: new DeltaMatcher(deltaSignatureOf(old, LEAF_BYTES)),
    ahead,
    sink: {
      sendCopy: (offset, oldOffset, length) => note(`copy ${offset}+${length}@${oldOffset}`),
      sendData: (offset, data) => note(`data ${offset}+${data.length}`),
      sendChunk: (index) => note(`chunk ${index}`),
    },
  });
  return { pieces, hashes };
}
