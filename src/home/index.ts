// The home directory: this host's identity, the server's allow-list, and the client's pinned server keys.
export { resolveHomeDir, ensureHomeDir, type ResolveHomeDirOptions } from './home-dir.js';
export { refuseUnlessOwnedByUs } from './owned-by-us.js';
export { refuseUnlessAncestorsOurs, type GuardedPlace } from './ancestors-ours.js';
export { DirectoryIdentity } from './directory-identity.js';
export { recordServeAddress, readServeAddress, SERVE_ADDRESS_FILE } from './serve-address.js';
export { recordDashboardUrl, DASHBOARD_URL_FILE } from './dashboard-url-file.js';
export {
  createIdentity,
  loadIdentity,
  loadOrCreateIdentity,
  IDENTITY_KEY_FILE,
  IDENTITY_PUB_FILE,
  type CreateIdentityOptions,
  loadKeyFile,
  writeKeyFile,
} from './identity-store.js';
export {
  AllowList,
  AllowListWatcher,
  loadAllowListIfChanged,
  allowClient,
  revokeClient,
  withClientAllowed,
  withoutClient,
  listAllowedClients,
  allowListPath,
  ALLOW_LIST_FILE,
  type AllowedClient,
  type Permission,
  type AllowClientOptions,
  type AllowListWatcherOptions,
} from './allow-list.js';
export { PERMISSIONS, isPermission, permissionBits, permissionNames } from './permissions.js';
export { normaliseServerAddress, parseServerAddress } from './parse-server-address.js';
export {
  lookupServer,
  listKnownServers,
  pinServer,
  checkServerKey,
  type ServerPin,
  type OfferedServerKey,
  type CheckServerKeyOptions,
} from './known-servers.js';
export { lookupKeyCommitment, recordKeyCommitment, rotateServerPin } from './server-pin-rotation.js';
export { knownServersPath, KNOWN_SERVERS_FILE } from './known-servers-file.js';
export {
  createInvite,
  consumeInvite,
  listInvites,
  revokeInvite,
  newInviteRecord,
  inviteRecordFromJson,
  consumedInviteOf,
  inviteInfoOf,
  isInviteExpired,
  type InviteRecord,
  invitesPath,
  INVITES_FILE,
  DEFAULT_INVITE_TTL_MS,
  MAX_INVITE_TTL_MS,
  MAX_LIVE_INVITES,
  type InviteInfo,
  ConsumedInvite,
  type CreateInviteOptions,
  type InviteStoreOptions,
} from './invite-store.js';
export {
  KEY_ROTATION_FILE,
  ROTATING_KEY_FILE,
  finishKeyRotation,
  loadKeyRotation,
  prepareNextKey,
  startKeyRotation,
  type LoadedKeyRotation,
} from './key-rotation-store.js';
