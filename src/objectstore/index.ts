export { S3PartialStore, type S3Target } from './s3-partial-store.js';
export { ObjectSource, MODE_METADATA, MTIME_METADATA } from './object-source.js';
export {
  ObjectTree,
  type ListingAttributes,
  type ObjectRemoval,
  type ObjectTreeEntry,
} from './object-tree.js';
export { PartLayout, MIN_PART_BYTES } from './part-layout.js';
export { parseS3Location, type S3Location } from './s3-location.js';
export { s3StoreClient, type S3StoreClientOptions } from './s3-store-client.js';
export { loadS3Store } from './load-s3-store.js';
export { MAX_COPY_OBJECT_BYTES, selfCopyPartBytes, type SelfCopyLimits } from './self-copy-in-parts.js';
