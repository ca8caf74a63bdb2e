import { AllowListWatcher, permissionBits, type AllowList, type AllowedClient } from '../home/index.js';
import type { Authorize, ClientGrant } from './session-io.js';

/**
 * What an allow-list entry grants a session (PROTOCOL.md §5.2): its name for the log, its permissions as
 * WELCOME's bits, the root it is confined to. The one conversion, for keys allowed before they connect and
 * for keys a pairing just allowed, so the two cannot grant differently.
 */
export function grantOf(client: AllowedClient): ClientGrant {
  return { name: client.name, permissions: permissionBits(client.permissions), root: client.root };
}

/**
 * The `Authorize` of a server whose clients are the allow-list of a ferry home (`ferry allow`, pairing):
 * each session looks its key up in the list as the file is now, so an allowed or revoked key counts from
 * the next session without a restart. Pass a watcher to share its reads (the dashboard lists the same
 * clients), or the home directory, or a cluster's EtcdAllowList.
 */
export function allowListAuthorize(allowList: { current(): Promise<AllowList> } | string): Authorize {
  const watcher = typeof allowList === 'string' ? new AllowListWatcher(allowList) : allowList;
  return async (publicKey) => {
    const client = (await watcher.current()).find(publicKey);
    return client === undefined ? undefined : grantOf(client);
  };
}
