import { FerryError } from '../errors/index.js';

/** Where a server keeps its files in an object store: a bucket and a key prefix ('' or ending in '/'). */
export interface S3Location {
  readonly bucket: string;
  readonly prefix: string;
}

/** S3's bucket naming rule (3-63 of lower-case letters, digits, dots and hyphens). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses `s3://BUCKET/PREFIX` (PREFIX optional); the prefix comes back ending in `/` unless empty. */
export function parseS3Location(url: string): S3Location {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!match || !BUCKET.test(match[1]!)) {
    throw new FerryError('USAGE_INVALID', 'a store is s3://BUCKET/PREFIX with a valid bucket name');
  }
  const rawPrefix = (match[2] ?? '').replace(/\/+$/, '');
  if (rawPrefix.split('/').some((part) => part === '' || part === '.' || part === '..') && rawPrefix !== '') {
    throw new FerryError('USAGE_INVALID', 'the prefix of an s3:// store has an empty, . or .. segment');
  }
  return { bucket: match[1]!, prefix: rawPrefix === '' ? '' : `${rawPrefix}/` };
}
