import { FerryError } from '../errors/index.js';
import {
  SERVER_DEFAULTS,
  loadS3Store,
  parseS3Location,
  type ServeOptions,
  type ServerObjectStore,
} from '../index.js';
import { formatByteSize } from './parse-option.js';
import { memoryFromFlags } from './serve-memory-flags.js';

/** `ferry serve`'s object-store flags (issue 15). */
export interface ObjectStoreFlags {
  store?: string | undefined;
  s3Endpoint?: string | undefined;
  s3Region?: string | undefined;
  partMemory?: string | undefined;
  partMemoryPerClient?: string | undefined;
}

/**
 * The object store `--store s3://BUCKET/PREFIX` names, reached at `--s3-endpoint` (AWS's own when left
 * out) in `--s3-region`, with credentials from the AWS SDK's default chain (environment, shared files);
 * undefined without `--store`. Refuses `--s3-*` without `--store`, and an endpoint that is not an http(s) URL.
 */
export async function objectStoreFromFlags(flags: ObjectStoreFlags): Promise<ServerObjectStore | undefined> {
  if (flags.store === undefined) {
    if (
      flags.s3Endpoint !== undefined ||
      flags.s3Region !== undefined ||
      flags.partMemory !== undefined ||
      flags.partMemoryPerClient !== undefined
    )
      throw new FerryError(
        'USAGE_INVALID',
        '--s3-endpoint, --s3-region and --part-memory[-per-client] need --store s3://BUCKET/PREFIX',
      );
    return undefined;
  }
  const location = parseS3Location(flags.store);
  let endpoint: URL | undefined;
  if (flags.s3Endpoint !== undefined) {
    try {
      endpoint = new URL(flags.s3Endpoint);
    } catch {
      endpoint = undefined;
    }
    if (!endpoint || (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:'))
      throw new FerryError('USAGE_INVALID', '--s3-endpoint is an http:// or https:// URL');
  }
  return loadS3Store(location, {
    endpoint: endpoint?.href.replace(/\/$/, ''),
    region: flags.s3Region ?? process.env.AWS_REGION ?? 'us-east-1',
  });
}

/** `--part-memory` and `--part-memory-per-client`, for their help: what they bound and their defaults. */
export const PART_MEMORY_HELP = {
  total: `with --store: bytes all uploads may hold in memory as parts at once; an offer whose part does not fit is refused with SERVER_BUSY, which clients retry (default ${formatByteSize(SERVER_DEFAULTS.partMemory.totalBytes)})`,
  perClient: `with --store: the same for one client key, over all its sessions (default ${formatByteSize(SERVER_DEFAULTS.partMemory.perClientBytes)})`,
};

/**
 * The server's part memory (`PartMemory`: bytes uploads to an object store hold as parts, per client and in
 * total) from `--part-memory-per-client` and `--part-memory` (`memoryFromFlags`).
 */
export function partMemoryFromFlags(flags: ObjectStoreFlags): NonNullable<ServeOptions['partMemory']> {
  return memoryFromFlags({
    flag: '--part-memory',
    total: flags.partMemory,
    perClient: flags.partMemoryPerClient,
    defaults: SERVER_DEFAULTS.partMemory,
  });
}
