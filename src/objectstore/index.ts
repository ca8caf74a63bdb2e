export { S3PartialStore, MODE_METADATA, MTIME_METADATA, type S3Target } from './s3-partial-store.js';
export { PartLayout, MIN_PART_BYTES } from './part-layout.js';
export { parseS3Location, type S3Location } from './s3-location.js';
export { s3StoreClient, type S3StoreClientOptions } from './s3-store-client.js';
