import { FerryError } from '../errors/index.js';
import { formatMs, parseMs } from './parse-option.js';
import {
  ClusterAdmission,
  DEFAULT_CLAIM_TTL_SECONDS,
  MAX_CLAIM_TTL_SECONDS,
  MIN_CLAIM_TTL_SECONDS,
  EtcdAllowList,
  EtcdGateway,
  EtcdInviteStore,
  EtcdTransferOwnership,
  type TransferOwnership,
} from '../index.js';

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
 * alone). Only with `--store`: servers without a shared store share no transfers (they still share
 * admission, {@link admissionFromFlags}).
 */
export function ownershipFromFlags(flags: {
  coordination?: string | undefined;
  store?: string | undefined;
  claimTtl?: string | undefined;
}): TransferOwnership | undefined {
  if (flags.coordination === undefined || flags.store === undefined) return undefined;
  const { endpoint, prefix } = parseCoordination(flags.coordination);
  const ttlSeconds = parseClaimTtl(flags.claimTtl ?? CLAIM_TTL_DEFAULT);
  return new EtcdTransferOwnership(new EtcdGateway(endpoint), { prefix, ttlSeconds });
}

/**
 * Refuses a `--claim-ttl` given (on the command line, in the environment or the config file: `source`, as
 * commander tells it) to a server that claims no transfers: without `--coordination` and `--store` it would
 * be ignored without a word, and the operator would believe a takeover waits that long.
 */
export function refuseClaimTtlAlone(
  flags: { coordination?: string | undefined; store?: string | undefined },
  source: string | undefined,
): void {
  if (source === undefined || source === 'default') return;
  if (flags.coordination === undefined)
    throw new FerryError(
      'USAGE_INVALID',
      "--claim-ttl needs --coordination and --store: it is how long a cluster's etcd keeps a killed server's transfers claimed; this server alone claims none",
    );
  if (flags.store === undefined)
    throw new FerryError(
      'USAGE_INVALID',
      '--claim-ttl needs --store too: servers without a shared store share no transfers, so none are claimed (--coordination alone shares admission)',
    );
}

/** `--claim-ttl`'s default, as its help shows it. */
export const CLAIM_TTL_DEFAULT = formatMs(DEFAULT_CLAIM_TTL_SECONDS * 1000);

/** `--claim-ttl`'s help line. */
export const CLAIM_TTL_HELP =
  "with --coordination and --store: how long a killed server's transfers stay claimed before another server takes them over (its etcd lease)";

/**
 * Parses `--claim-ttl`: whole seconds (etcd's leases count in seconds), from MIN_CLAIM_TTL_SECONDS to
 * MAX_CLAIM_TTL_SECONDS (node's timers).
 */
export function parseClaimTtl(text: string): number {
  const ms = parseMs(text, '--claim-ttl', { unitRequired: true });
  if (ms % 1000 !== 0 || ms < MIN_CLAIM_TTL_SECONDS * 1000 || ms > MAX_CLAIM_TTL_SECONDS * 1000)
    throw new FerryError(
      'USAGE_INVALID',
      `--claim-ttl is whole seconds, from ${MIN_CLAIM_TTL_SECONDS}s to ${formatMs(MAX_CLAIM_TTL_SECONDS * 1000)}, got ${JSON.stringify(text)}`,
    );
  return ms / 1000;
}

/**
 * A cluster's shared admission (allow-list and invites in etcd) when `--coordination` is given: then it,
 * not the home's `allowed-clients.json` and `invites.json`, says who may connect to any server.
 */
export function admissionFromFlags(flags: {
  coordination?: string | undefined;
}): ClusterAdmission | undefined {
  if (flags.coordination === undefined) return undefined;
  const { endpoint, prefix } = parseCoordination(flags.coordination);
  return new ClusterAdmission(new EtcdGateway(endpoint), prefix);
}

/** The etcd allow-list `ferry allow / revoke / clients --coordination` change or read (no watch). */
export function clusterAllowList(coordination: string): EtcdAllowList {
  const { endpoint, prefix } = parseCoordination(coordination);
  return new EtcdAllowList(new EtcdGateway(endpoint), prefix, { resyncIntervalMs: 0 });
}

/** The etcd invite store `ferry invite / invites --coordination` use. */
export function clusterInvites(coordination: string): EtcdInviteStore {
  const { endpoint, prefix } = parseCoordination(coordination);
  return new EtcdInviteStore(new EtcdGateway(endpoint), prefix);
}

/** The `--coordination` option's help, one text for every command that takes it. */
export const COORDINATION_HELP =
  "a cluster's etcd 3.4: its allow-list and invites (shared by every server) instead of this home's";
