import { FerryError } from '../errors/index.js';
import { formatMs, parseMs } from './parse-option.js';
import {
  ClusterAdmission,
  DEFAULT_CLAIM_TTL_SECONDS,
  MAX_CLAIM_TTL_SECONDS,
  MIN_CLAIM_TTL_SECONDS,
  EtcdGateway,
  EtcdTransferOwnership,
  type TransferOwnership,
} from '../index.js';
import { parseCoordination } from './coordination-flags.js';

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
