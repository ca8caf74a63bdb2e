import { FerryError } from '../errors/index.js';
import { EtcdGateway, EtcdTransferOwnership, type TransferOwnership } from '../index.js';

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

/**
 * The cross-server transfer ownership `--coordination` names (etcd), or undefined without it (this server
 * alone). Only meaningful with `--store`: servers without a shared store share no transfers.
 */
export function ownershipFromFlags(flags: {
  coordination?: string | undefined;
  store?: string | undefined;
}): TransferOwnership | undefined {
  if (flags.coordination === undefined) return undefined;
  if (flags.store === undefined)
    throw new FerryError(
      'USAGE_INVALID',
      '--coordination needs --store s3://BUCKET/PREFIX (a store the servers share)',
    );
  const { endpoint, prefix } = parseCoordination(flags.coordination);
  return new EtcdTransferOwnership(new EtcdGateway(endpoint), { prefix });
}
