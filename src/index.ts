/**
 * ferry's public library API. The CLI uses the client, the server and the dashboard only through these
 * exports (a lint rule in eslint.config.js keeps it so), or, for the client commands, through its client half
 * (src/client-api.ts, re-exported whole below). Names are listed one by one: nothing internal leaks through
 * a wildcard.
 */
export {
  FerryError,
  isFerryError,
  toFerryError,
  ERROR_CODES,
  EXIT_CODES,
  type ErrorCode,
  type ErrorCategory,
} from './errors/index.js';
export { KeyPair, generateKeyPair, formatFerryId, parseFerryId, shortFerryId } from './crypto/index.js';
export {
  resolveHomeDir,
  createIdentity,
  loadIdentity,
  loadOrCreateIdentity,
  allowClient,
  revokeClient,
  listAllowedClients,
  AllowListWatcher,
  pinServer,
  lookupServer,
  checkServerKey,
  createInvite,
  listInvites,
  revokeInvite,
  type InviteInfo,
  type CreateInviteOptions,
  type AllowedClient,
  type Permission,
} from './home/index.js';
export { PROTOCOL_VERSION, DEFAULT_PORT } from './protocol/index.js';
export {
  FerryServer,
  SERVER_DEFAULTS,
  DEFAULT_CONNECTION_LIMITS,
  allowListAuthorize,
  type ServeOptions,
  type CloseOptions,
  type SessionState,
  type ConnectionLimits,
  type ClientGrant,
  type Authorize,
} from './server/index.js';
export {
  ServerEvents,
  type ServerEvent,
  type ServerEventType,
  type ServerEventMap,
  type ServerTransfer,
  type ServerTransferDirection,
  type SessionPeer,
  type SessionStats,
} from './server/index.js';
export {
  Dashboard,
  startDashboard,
  DEFAULT_DASHBOARD_PORT,
  isLoopbackHost,
  type DashboardOptions,
  type DashboardClient,
  type DashboardSnapshot,
} from './web/index.js';
export { type PairingOptions, type ServerKeyRotation, type ServerObjectStore } from './server/index.js';
// Who writes a transfer across the servers of a cluster (`ServeOptions.ownership`, `--coordination`).
export {
  EtcdGateway,
  EtcdTransferOwnership,
  DEFAULT_CLAIM_TTL_SECONDS,
  MAX_CLAIM_TTL_SECONDS,
  MIN_CLAIM_TTL_SECONDS,
  LocalTransferOwnership,
  type EtcdOwnershipOptions,
  type OwnershipClaim,
  type TransferOwnership,
} from './server/index.js';
// Who may connect to any server of a cluster (`--coordination`): allow-list and invites in etcd.
export {
  ClusterAdmission,
  EtcdAllowList,
  EtcdInviteStore,
  type EtcdAllowListOptions,
  type PairingStores,
  type SessionEnder,
} from './server/index.js';
// Files in an S3-compatible object store (issue 15): `ServeOptions.objectStore`.
// Loaded on demand: the AWS SDK is imported only by a server given a store (objectstore/load-s3-store.ts).
export { loadS3Store } from './objectstore/load-s3-store.js';
export { parseS3Location, type S3Location } from './objectstore/s3-location.js';
export type { S3PartialStore } from './objectstore/s3-partial-store.js';
export type { S3StoreClientOptions } from './objectstore/s3-store-client.js';
export * from './client-api.js';

import { FerryServer, type ServeOptions } from './server/index.js';
import { sendFiles, type SendFilesOptions } from './client/index.js';

/** Starts a server (same as `FerryServer.start`). */
export function serve(options: ServeOptions): Promise<FerryServer> {
  return FerryServer.start(options);
}

/** Uploads files to a server (same as `sendFiles`). */
export function send(options: SendFilesOptions): ReturnType<typeof sendFiles> {
  return sendFiles(options);
}
