import type { SourceFile } from './source-file.js';

/**
 * What a sender reads a file's chunks from: a local `SourceFile`, or an object in an object store
 * (src/objectstore/, issue 15). The same reads, the same SOURCE_CHANGED check before a digest is claimed.
 * A local file also lends its descriptor (`lendFd`), so a `SealPool` worker reads its own blocks; an object
 * has none and is read on the event loop.
 */
export type ChunkSource = Partial<Pick<SourceFile, 'lendFd' | 'returnFd' | 'closing'>> &
  Pick<
    SourceFile,
    | 'size'
    | 'mtimeMs'
    | 'mode'
    | 'identity'
    | 'readExactly'
    | 'readvExactly'
    | 'chunkHash'
    | 'assertUnchanged'
    | 'close'
  >;
