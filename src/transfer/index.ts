export {
  resolveUnderRoot,
  resolveExisting,
  assertWritableTarget,
  assertWritableTargetSync,
  resolveParent,
  type RootPath,
} from './root-path.js';
export { PartialTransfer, DURABLE_BATCH_BYTES, type PartialTransferOptions } from './partial-transfer.js';
export {
  sameTransferHeader,
  type PartialStore,
  type SweepablePartialStore,
  type StoredPartial,
  type StoredPartialReader,
  type FinishOptions,
  type InspectedPartial,
  type ListedPartial,
  type OpenPartialOptions,
  type StoreCallOptions,
  type TransferHeader,
} from './partial-store.js';
export {
  FilePartialStore,
  type FilePartialLayout,
  type FilePartialStoreOptions,
  type PartialPaths,
} from './file-partial-store.js';
export {
  DELTA_DURABLE_BATCH_FACTOR,
  PLACED_SYNC_BYTES,
  deltaDurableBatchBytes,
} from './delta-durable-batch.js';
export { MemoryPartialStore, type MemoryPlacedFile } from './memory-partial-store.js';
export { heldLoggedChunks, verifyLoggedChunks } from './verify-logged-chunks.js';
export {
  ChunkLog,
  closedAs,
  closingSeal,
  decodeChunkLog,
  encodeClosingRecord,
  PARTIAL_IDENTITY_BYTES,
  type ChunkEntry,
  type DecodedChunkLog,
} from './chunk-log.js';
export { partialOwner, partialOwnership, type PartialOwnership } from './partial-owner.js';
export { writableOnlyByUs } from './writable-only-by-us.js';
export { noFollowFlags, openNoFollow, type NoFollowMode } from './open-no-follow.js';
export { SourceFile, assertWalkedInode, identityOf, type WalkedInode } from './source-file.js';
export { assertOpenedAt } from './opened-at.js';
export { assertDirUnmoved } from './dir-unmoved.js';
export type { BeforeTreeWrite, TreeWriteStep } from './tree-write-hook.js';
export { type ChunkSource } from './chunk-source.js';
export { digestFile } from './digest-file.js';
export { fsyncDir } from './fsync-dir.js';
export { ChunkHashCache } from './chunk-hash-cache.js';
export {
  KnownLeafHashes,
  KNOWN_LEAF_HASHES_MAX_BYTES,
  worthKnowing,
  type KnownLeaves,
  type KnownLeafHashesCounters,
} from './known-leaf-hashes.js';
export { hashAllChunks, type HashChunksInto } from './hash-all-chunks.js';
export { streamChunks, hashChunks, type ChunkSink, type StreamChunksOptions } from './chunk-streamer.js';
export {
  streamDeltaChunks,
  type ScanAhead,
  type DeltaSink,
  type DeltaStreamed,
  type StreamDeltaOptions,
  type UploadSignatureArrival,
} from './delta-streamer.js';
export { LeafHashesAhead, type WriteThrough } from './leaf-hashes-ahead.js';
export {
  SIGNING_COUNTERS,
  signBlocks,
  signLeaves,
  type SignedPieceHook,
  type SigningMemory,
  type PieceWriteThrough,
} from './sign-leaves.js';
export {
  DIRECT_READ_COUNTERS,
  LEAF_HASH_THREAD,
  LEAF_HASH_THREADS,
  LeafHashThread,
  THREAD_START_MIN_BYTES,
  type ReadLeaves,
} from './leaf-hash-thread.js';
export type { DirectReads } from './direct-reads.js';
export { DIRECT_ALIGN_BYTES, DIRECT_WRITE_COUNTERS } from './direct-writer.js';
export {
  resolveLinkTarget,
  assertLinkStaysInside,
  manifestLookup,
  MAX_LINK_HOPS,
  linkResolution,
  type TreeNode,
  type TreeLookup,
  type LinkVerdict,
  type FinalLinkVerdict,
} from './link-target.js';
export { linkVerdictOnDisk } from './link-verdict-on-disk.js';
export {
  walkLocalTree,
  UNSENDABLE_NAME,
  type ExcludeEntry,
  type LocalTree,
  type OnSkip,
  type SkipKind,
} from './local-tree.js';
export { directoryNames, type DirectoryName } from './directory-names.js';
export { WalkFs, WalkVerdict } from './walk-fs.js';
export { localTopOf, type LocalTop } from './local-top.js';
export { fsTimeOf, siblingTempName } from './fs-names.js';
export { isFerryTemporaryName } from './ferry-temporary-name.js';
export { placeLink } from './place-link.js';
export {
  BATCH_TEMPORARY_MAX_AGE_MS,
  CLIENT_BATCH_TEMP_PREFIX,
  SERVER_BATCH_TEMP_PREFIX,
  isBatchTemporary,
  sweepBatchTemporaries,
} from './batch-temporaries.js';
export { clearForReplacement, removeUnderRoot, type RemovedKind } from './remove-under-root.js';
export { setAttributesUnderRoot } from './set-attributes-under-root.js';
export { receivedFileMode, receivedDirectoryMode } from './received-mode.js';
export { makeReceivedDirectory } from './make-received-directory.js';
export { setDirectoryAttributes } from './set-directory-attributes.js';
export {
  placeSmallFiles,
  placeStagedFiles,
  stageSmallFiles,
  type SmallFile,
  type SmallFileOutcome,
  type StagedPlacement,
  type StagedSmallFile,
} from './place-small-files.js';
export { SealPool } from './pipeline/seal-pool.js';
export { DEFAULT_THREADS, defaultThreadsFor } from './pipeline/default-threads.js';
export { streamChunksPooled, type PooledChunkSink } from './pipeline/stream-chunks-pooled.js';
export { OneWorkerThread } from './one-worker-thread.js';
export { Wakeup } from './wakeup.js';
