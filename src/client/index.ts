export { ClientSession, STALL_TIMEOUT_MS } from './client-session.js';
export {
  type ClientSessionOptions,
  type ServerKeyContext,
  type ServerKeyHandler,
} from './client-session-options.js';
export { CONNECT_TIMEOUT_MS } from './connect-socket.js';
export { type ServerAddress } from './server-address.js';
export { serverKeyUpdater } from './server-key-update.js';
export { ProgressWatchdog, PROGRESS_TIMEOUT_MS, HASH_FLOOR_BYTES_PER_SECOND } from './progress-watchdog.js';
export {
  uploadFile,
  beginUpload,
  type UploadOptions,
  type UploadResult,
  type PendingUpload,
} from './upload-file.js';
export {
  beginDownload,
  type DownloadOptions,
  type DownloadResult,
  type PendingDownload,
} from './download-file.js';
export { DEFAULT_STREAMS } from './extra-sessions.js';
export {
  sendFiles,
  runUploadJobs,
  withRetries,
  type SendFilesOptions,
  type SendEvent,
  type SessionEvent,
  type ConnectOptions,
  type UploadJob,
  type JobResult,
} from './send-files.js';
export { sendTree, treeJobs, type SendTreeOptions } from './send-tree.js';
export { sendPaths, type SendPathsOptions } from './send-paths.js';
export { UnsentNamesError, type UnsentName } from './unsent-names.js';
export {
  resolveDestination,
  type Destination,
  type DestinationRequest,
  type DestinationSide,
  type PathKind,
} from './destination.js';
export { LOCAL_DESTINATION, remoteDestination } from './destination-sides.js';
export { aboutRemotePath, remoteName } from './remote-name.js';
export { getFiles, type GetFilesOptions, type GetEvent } from './get-files.js';
export { getPaths, type GetPathsOptions } from './get-paths.js';
export { refuseSameNameGets, refuseSameNameSends } from './distinct-source-names.js';
export { syncTree, type SyncTreeOptions, type SyncSummary, type SyncEvent } from './sync-tree.js';
export { ExcludePatterns, excludePatternsOfFile } from './sync-exclude.js';
export {
  planSync,
  filesToCompare,
  countSyncActions,
  quickCheckEqual,
  type SyncAction,
  type SyncEntry,
  type SyncTrees,
  type SyncPlanOptions,
  type SyncCounts,
} from './sync-plan.js';
export { remoteDigest, type RemoteDigest } from './remote-digest.js';
export {
  type TransferEvent,
  type TransferEventType,
  type TransferDirection,
  type TransferSubject,
} from './transfer-events.js';
export { listRemote, remotePathKind, type RemoteListing } from './list-remote.js';
export { listFiles, type ListFilesOptions } from './list-files.js';
export {
  pairWithServer,
  PAIRING_TIMEOUT_MS,
  type PairWithServerOptions,
  type PairingOutcome,
} from './pair-with-server.js';
export { pairingPins } from './pairing-pins.js';
export { DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from './retry-policy.js';
export { DEFAULT_THREADS } from '../transfer/index.js';
