import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCopyCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FerryError } from '../errors/index.js';
import { MIN_PART_BYTES } from './part-layout.js';

/**
 * The most one CopyObject copies, and the most one part of a multipart upload holds: 5 GiB on S3. An object
 * above it gets new metadata by a multipart upload of part copies ({@link selfCopyInParts}).
 */
export const MAX_COPY_OBJECT_BYTES = 5 * 1024 ** 3;

/** Parts one multipart upload may have on S3. */
const MAX_PARTS = 10_000;

/**
 * How long the abort of a multipart upload may take once its caller has gone: it is not waited for, but a
 * store that stopped answering must not keep its request open for ever.
 */
const CLEANUP_TIMEOUT_MS = 60_000;

/** Part copies in flight at once: each is a copy inside the store, so a few suffice to keep it busy. */
const PART_COPIES_IN_FLIGHT = 4;

/** When a copy that replaces an object's metadata is split into parts, and how big they are. */
export interface SelfCopyLimits {
  /** Objects above this many bytes are copied in parts (S3's 5 GiB by default; injected by tests). */
  readonly copyLimitBytes: number;
  /**
   * The size of each part but the last, raised as needed to stay within S3's 10,000 parts, and kept between
   * MIN_PART_BYTES and MAX_COPY_OBJECT_BYTES.
   */
  readonly partBytes: number;
}

export const DEFAULT_SELF_COPY_LIMITS: SelfCopyLimits = {
  copyLimitBytes: MAX_COPY_OBJECT_BYTES,
  partBytes: 1024 ** 3,
};

/** The condition every part copy carries: the version the caller's HEAD saw, by ETag or by time. */
export type CopySourceCondition = { CopySourceIfMatch: string } | { CopySourceIfUnmodifiedSince: Date };

/** The object to copy onto itself, as a HEAD of it saw it, and what it gets. */
export interface SelfCopy {
  readonly bucket: string;
  readonly key: string;
  readonly head: HeadObjectCommandOutput;
  readonly metadata: Record<string, string>;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** The part size for an object of `size` bytes: `partBytes`, raised to fit 10,000 parts, within S3's bounds. */
export function selfCopyPartBytes(size: number, limits: SelfCopyLimits): number {
  const fitting = Math.ceil(size / MAX_PARTS);
  return Math.min(MAX_COPY_OBJECT_BYTES, Math.max(MIN_PART_BYTES, limits.partBytes, fitting));
}

/**
 * Replaces the metadata of an object too big for one CopyObject (issue 16): a multipart upload onto the same
 * key whose parts are server-side copies of the object's ranges (`UploadPartCopy`), completed with
 * `CompleteMultipartUpload`, which places the new version atomically, as CopyObject would. No byte travels
 * through the server.
 *
 * Bound to the version the caller's HEAD saw, like the single copy (ObjectTree.setAttributes):
 * - every part copy carries `condition` (the ETag, or the Last-Modified where the store cannot check the ETag
 *   of an object assembled from parts), so all parts come from one version; a 412 there is thrown for the
 *   caller to tell a replaced object from a store that cannot check, as it does for CopyObject;
 * - the completion carries `If-Match` with that ETag, so an object replaced after the parts were copied is
 *   not overwritten with the old bytes (AWS checks it atomically). Swift's s3api answers 412 to any
 *   `If-Match` on a completion (checked on Swift 2.30); then a HEAD must still show the same ETag and
 *   Last-Modified, and the completion goes without the condition: a replacement landing between that HEAD
 *   and the completion, milliseconds, is overwritten there (docs/ARCHITECTURE.md, "The object store").
 * Any failure aborts the upload, so no parts are left behind; SOURCE_CHANGED when the object was replaced.
 * Every request carries `signal` (the caller's session, as the SDK's `abortSignal`): a store that stopped
 * answering holds no session past its end. The upload's abort after such an end is not waited for, and is
 * bounded by CLEANUP_TIMEOUT_MS instead.
 */
export async function selfCopyInParts(
  client: S3Client,
  copy: SelfCopy,
  condition: CopySourceCondition,
  options: SelfCopyLimits & { signal?: AbortSignal | undefined },
): Promise<void> {
  const { bucket, key, head } = copy;
  const sent = { abortSignal: options.signal };
  const size = head.ContentLength ?? 0;
  const partBytes = selfCopyPartBytes(size, options);
  const partCount = Math.max(1, Math.ceil(size / partBytes));
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      Metadata: copy.metadata,
      ...(head.ContentType !== undefined ? { ContentType: head.ContentType } : {}),
    }),
    sent,
  );
  if (UploadId === undefined) throw new FerryError('IO_ERROR', 'object store: no upload id');
  const source = `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
  try {
    const etags: string[] = new Array<string>(partCount);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < partCount) {
        const index = next++;
        const first = index * partBytes;
        const last = Math.min(size, first + partBytes) - 1;
        const out = await client.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            PartNumber: index + 1,
            CopySource: source,
            CopySourceRange: `bytes=${first}-${last}`,
            ...condition,
          }),
          sent,
        );
        const etag = out.CopyPartResult?.ETag;
        if (etag === undefined) throw new FerryError('IO_ERROR', 'object store: a part copy without ETag');
        etags[index] = etag;
      }
    };
    await Promise.all(Array.from({ length: Math.min(PART_COPIES_IN_FLIGHT, partCount) }, worker));
    const complete = (ifMatch: string | undefined) =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
          ...(ifMatch !== undefined ? { IfMatch: ifMatch } : {}),
        }),
        sent,
      );
    try {
      await complete(head.ETag);
      return;
    } catch (err) {
      // 412: replaced since the HEAD, or Swift, which refuses every If-Match here; 409: a write raced it.
      if (statusOf(err) !== 412 && statusOf(err) !== 409) throw err;
    }
    const now = await headOf(client, bucket, key, options.signal);
    if (
      now?.ETag !== head.ETag ||
      now?.LastModified?.getTime() !== head.LastModified?.getTime() ||
      head.LastModified === undefined
    )
      throw new FerryError('SOURCE_CHANGED', 'the object changed while its attributes were set');
    await complete(undefined);
  } catch (err) {
    // After the caller's end its own signal would drop the abort at once: it goes on its own, bounded.
    const ended = options.signal?.aborted === true;
    const aborting = client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }), {
        abortSignal: ended ? AbortSignal.timeout(CLEANUP_TIMEOUT_MS) : options.signal,
      })
      // The first failure is the one to report. An upload whose abort fails too stays in the bucket until
      // its lifecycle rule (AbortIncompleteMultipartUpload) removes it: the server does not sweep these.
      .catch(() => undefined);
    if (!ended) await aborting;
    throw err;
  }
}

async function headOf(
  client: S3Client,
  bucket: string,
  key: string,
  signal: AbortSignal | undefined,
): Promise<HeadObjectCommandOutput | undefined> {
  try {
    return await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}
