import type { S3Location } from './s3-location.js';
import type { S3PartialStore } from './s3-partial-store.js';
import type { S3StoreClientOptions } from './s3-store-client.js';

/**
 * The S3 store at `location`, loading the AWS SDK only now: only a server given `--store` uses it, and
 * importing it at start-up made every `ferry` command slower and bigger (docs/ARCHITECTURE.md, "The object
 * store"). The public API (src/index.ts) reaches the store through this function alone.
 */
export async function loadS3Store(
  location: S3Location,
  options: S3StoreClientOptions,
): Promise<S3PartialStore> {
  const [{ S3PartialStore: Store }, { s3StoreClient }] = await Promise.all([
    import('./s3-partial-store.js'),
    import('./s3-store-client.js'),
  ]);
  return new Store(s3StoreClient(options), location);
}
