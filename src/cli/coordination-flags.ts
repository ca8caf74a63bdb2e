import { FerryError } from '../errors/index.js';
import type { EtcdAllowList, EtcdInviteStore } from '../index.js';

// The key and invite commands' side of `--coordination`: the library (src/index.ts, the server's modules
// with it) is loaded only when the flag is given, not by every `ferry id`, `trust` or `invite` (their start
// took ~60 ms more for it). The server's side is serve-coordination-flags.ts.

/** The key prefix when `--coordination` names none: every server of one cluster must name the same. */
export const DEFAULT_COORDINATION_PREFIX = 'ferry/';

/** Where `--coordination etcd://HOST:PORT[/PREFIX]` points: etcd's client URL and the cluster's key prefix. */
export interface CoordinationTarget {
  readonly endpoint: string;
  readonly prefix: string;
}

/** Parses `etcd://HOST:PORT[/PREFIX]`; refuses anything else. */
export function parseCoordination(text: string): CoordinationTarget {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== 'etcd:' || url.hostname === '' || url.port === '')
    throw new FerryError('USAGE_INVALID', '--coordination is etcd://HOST:PORT[/PREFIX]');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '')
    throw new FerryError('USAGE_INVALID', '--coordination takes no credentials, query or fragment');
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (
    path
      .split('/')
      .some((part, i, all) => part === '..' || part === '.' || (part === '' && i < all.length - 1))
  )
    throw new FerryError('USAGE_INVALID', '--coordination: the prefix is plain path segments');
  const prefix = path === '' ? DEFAULT_COORDINATION_PREFIX : path.endsWith('/') ? path : `${path}/`;
  return { endpoint: `http://${url.host}`, prefix };
}

/** The etcd allow-list `ferry allow / revoke / clients --coordination` change or read (no watch). */
export async function clusterAllowList(coordination: string): Promise<EtcdAllowList> {
  const { endpoint, prefix } = parseCoordination(coordination);
  const { EtcdAllowList, EtcdGateway } = await import('../index.js');
  return new EtcdAllowList(new EtcdGateway(endpoint), prefix, { resyncIntervalMs: 0 });
}

/** The etcd invite store `ferry invite / invites --coordination` use. */
export async function clusterInvites(coordination: string): Promise<EtcdInviteStore> {
  const { endpoint, prefix } = parseCoordination(coordination);
  const { EtcdGateway, EtcdInviteStore } = await import('../index.js');
  return new EtcdInviteStore(new EtcdGateway(endpoint), prefix);
}

/** The `--coordination` option's help, one text for every command that takes it. */
export const COORDINATION_HELP =
  "a cluster's etcd 3.4: its allow-list and invites (shared by every server) instead of this home's";
