import { S3Client } from '@aws-sdk/client-s3';

/** How to reach an S3-compatible endpoint; credentials come from the SDK's default chain unless given. */
export interface S3StoreClientOptions {
  /** `http(s)://HOST:PORT` (AWS's own when undefined); path-style, which S3-compatible stores need. */
  readonly endpoint?: string | undefined;
  readonly region?: string | undefined;
  /** For tests; otherwise the standard AWS environment and shared files (`AWS_ACCESS_KEY_ID`, profiles). */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
}

/**
 * An `S3Client` for an object store. The SDK warns at construction, on Node 20, that its releases after
 * January 2027 need Node 22; that says nothing about the version pinned here and would land in the middle
 * of the CLI's output, so it is turned off unless the user set the SDK's own switch either way.
 */
export function s3StoreClient(options: S3StoreClientOptions): S3Client {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    region: options.region ?? 'us-east-1',
    forcePathStyle: true,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // Swift's s3api ignores the newer flexible checksums; send and check them only when an API needs them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
