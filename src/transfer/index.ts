export { resolveUnderRoot, assertWritableTarget, type RootPath } from './root-path.js';
export { PartialTransfer, DURABLE_BATCH_BYTES, type PartialTransferOptions } from './partial-transfer.js';
export { TransferStateLog, type TransferHeader, type ChunkEntry } from './transfer-state-log.js';
export { SourceFile } from './source-file.js';
export { fsyncDir } from './fsync-dir.js';
