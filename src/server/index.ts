export { FerryServer } from './ferry-server.js';
export { type SessionState } from './session-state.js';
export { CLOSE_GRACE_MS, type CloseOptions } from './close-options.js';
export { SERVER_IDLE_TIMEOUT_MS, type ServeOptions } from './serve-options.js';
export { type ClientGrant, type Authorize, type ServerKeyRotation } from './session-io.js';
export { type ServerObjectStore } from './server-object-store.js';
export { allowListAuthorize, grantOf } from './allow-list-authorize.js';
export {
  PairingAdmission,
  MAX_CONCURRENT_PAIRINGS,
  MAX_PAIRINGS_PER_MINUTE,
  type PairingOptions,
  type PairingStores,
} from './pairing-admission.js';
export {
  ServerEvents,
  type ServerEvent,
  type ServerEventType,
  type ServerEventMap,
  type ServerTransfer,
  type ServerTransferDirection,
  type SessionPeer,
  type SessionStats,
} from './server-events.js';
export { logServerEvents, logServerEvent } from './server-log.js';
export { ConnectionGate, DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './connection-gate.js';
export {
  HandshakeRateLimit,
  DEFAULT_HANDSHAKE_RATE_LIMITS,
  sourceOf,
  type HandshakeRateLimits,
} from './handshake-rate-limit.js';
export { StorageLimits, MIN_FREE_DISK_BYTES, MAX_PARTIALS_PER_CLIENT } from './storage-limits.js';
export { FileHashCache, FILE_HASH_CACHE_BYTES } from './file-hash-cache.js';
export {
  HashBudget,
  CHECK_HASH_BYTES_PER_SECOND,
  CHECK_HASH_BURST_BYTES,
  CHECK_HASH_TOTAL_BYTES_PER_SECOND,
  CHECK_HASH_TOTAL_BURST_BYTES,
  type HashBudgetOptions,
} from './hash-budget.js';
export {
  CoordinationBudget,
  type CoordinationBudgetOptions,
  type ClaimPayment,
} from './coordination-budget.js';
export {
  BatchAdmission,
  MAX_OPEN_BATCHES_PER_CLIENT,
  MAX_OPEN_BATCHES_TOTAL,
  type BatchAdmissionOptions,
} from './batch-admission.js';
export { SERVER_DEFAULTS } from './server-defaults.js';
export { LocalTransferOwnership, type OwnershipClaim, type TransferOwnership } from './transfer-ownership.js';
export {
  DEFAULT_CLAIM_TTL_SECONDS,
  EtcdTransferOwnership,
  MAX_CLAIM_TTL_SECONDS,
  MIN_CLAIM_TTL_SECONDS,
  type EtcdOwnershipOptions,
} from './etcd-transfer-ownership.js';
export { EtcdGateway } from './etcd-gateway.js';
export {
  EtcdAllowList,
  ALLOW_LIST_RESYNC_INTERVAL_MS,
  type EtcdAllowListOptions,
} from './etcd-allow-list.js';
export { EtcdInviteStore } from './etcd-invite-store.js';
export { ClusterAdmission, type SessionEnder } from './cluster-admission.js';
export { AdmittedSessions, type EndSession } from './admitted-sessions.js';
export { serverPartialStore } from './server-partial-store.js';
export { SessionKeepalive, KEEPALIVE_INTERVAL_MS } from './session-keepalive.js';
