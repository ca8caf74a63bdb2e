import { FerryError } from '../errors/index.js';
import { loadS3Store, parseS3Location, type ServerObjectStore } from '../index.js';

/** `ferry serve`'s object-store flags (issue 15). */
export interface ObjectStoreFlags {
  store?: string | undefined;
  s3Endpoint?: string | undefined;
  s3Region?: string | undefined;
}

/**
 * The object store `--store s3://BUCKET/PREFIX` names, reached at `--s3-endpoint` (AWS's own when left
 * out) in `--s3-region`, with credentials from the AWS SDK's default chain (environment, shared files);
 * undefined without `--store`. Refuses `--s3-*` without `--store`, and an endpoint that is not an http(s) URL.
 */
export async function objectStoreFromFlags(flags: ObjectStoreFlags): Promise<ServerObjectStore | undefined> {
  if (flags.store === undefined) {
    if (flags.s3Endpoint !== undefined || flags.s3Region !== undefined)
      throw new FerryError('USAGE_INVALID', '--s3-endpoint and --s3-region need --store s3://BUCKET/PREFIX');
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
