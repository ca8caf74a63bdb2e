import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FerryError, toFerryError } from '../errors/index.js';

export function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export function isPastEnd(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'InvalidRange' || e.$metadata?.httpStatusCode === 416;
}

/**
 * The object store's failure as ferry's (no key, bucket or endpoint in it: it may reach the wire); a request
 * dropped because `signal` aborted fails with the abort's reason, which is why it failed.
 */
export function storeError(err: unknown, signal?: AbortSignal): FerryError {
  if (err instanceof FerryError) return err;
  if (signal?.aborted) return toFerryError(signal.reason);
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return new FerryError(
    'IO_ERROR',
    `object store: ${e.name ?? 'error'} ${e.$metadata?.httpStatusCode ?? ''}`.trim(),
    {
      cause: err,
    },
  );
}

/** What every open partial shares with its store. */
export interface S3Context {
  readonly client: S3Client;
  readonly bucket: string;
  /** `<prefix>.ferry/partial/`: where partials live, beside (and hidden from) the files. */
  readonly partialPrefix: string;
  /**
   * The caller's (an upload's session, OpenPartialOptions.signal): every request made with this context
   * carries it as the SDK's `abortSignal`, cleanups too (an abort of a finish's multipart upload, a partial's
   * removal): a store that stopped answering must not hold a session that ended, and what a dropped cleanup
   * leaves, the sweeper or the next open removes (the state object names a finish's upload).
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Pays for a part loaded back from the store while a partial is written (`S3PartialStore.payPartLoads`),
   * by the partial's key (its transfer id) and the part's bytes; until a server sets it, nothing is paid.
   */
  readonly partLoads?: { pay?: ((key: string, bytes: number) => Promise<void>) | undefined };
  /**
   * Reserves the memory a partial holds in parts (`S3PartialStore.holdPartsWith`), by its key and its largest
   * part's bytes (the floor, taken at open or thrown); until a server sets it, nothing is bounded but the count.
   */
  readonly partMemory?: { hold?: ((key: string, floorBytes: number) => PartHold) | undefined };
}

/** A partial's share of the server's part memory (the server's PartMemory.hold). */
export interface PartHold {
  /** Takes `bytes` more if they fit now, never waiting. */
  grow(bytes: number): boolean;
  /** Gives back `bytes` of what grow took. */
  shrink(bytes: number): void;
  /** Gives back all; a second call does nothing. */
  release(): void;
}

export async function getBytes(ctx: S3Context, key: string, range?: string): Promise<Buffer | undefined> {
  try {
    const out = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: key, Range: range }), {
      abortSignal: ctx.signal,
    });
    return Buffer.from(await out.Body!.transformToByteArray());
  } catch (err) {
    if (isMissing(err) || isPastEnd(err)) return undefined;
    throw storeError(err, ctx.signal);
  }
}

export async function putBytes(
  ctx: S3Context,
  key: string,
  body: Buffer,
  metadata?: Record<string, string>,
): Promise<void> {
  try {
    await ctx.client.send(
      new PutObjectCommand({ Bucket: ctx.bucket, Key: key, Body: body, Metadata: metadata }),
      { abortSignal: ctx.signal },
    );
  } catch (err) {
    throw storeError(err, ctx.signal);
  }
}

export async function deleteKey(ctx: S3Context, key: string): Promise<void> {
  try {
    await ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: key }), {
      abortSignal: ctx.signal,
    });
  } catch (err) {
    if (!isMissing(err)) throw storeError(err, ctx.signal);
  }
}

/** Every object under `prefix`, with when it was last written. */
export async function listKeys(
  ctx: S3Context,
  prefix: string,
): Promise<Array<{ key: string; modifiedMs: number }>> {
  const out: Array<{ key: string; modifiedMs: number }> = [];
  let token: string | undefined;
  do {
    const page = await ctx.client
      .send(new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: prefix, ContinuationToken: token }), {
        abortSignal: ctx.signal,
      })
      .catch((err: unknown) => {
        throw storeError(err, ctx.signal);
      });
    for (const item of page.Contents ?? []) {
      if (item.Key !== undefined) out.push({ key: item.Key, modifiedMs: item.LastModified?.getTime() ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return out;
}

/** Deletes every object under `prefix`. */
export async function deleteUnder(ctx: S3Context, prefix: string): Promise<void> {
  for (const { key } of await listKeys(ctx, prefix)) await deleteKey(ctx, key);
}

export async function abortUpload(ctx: S3Context, target: string, uploadId: string): Promise<void> {
  try {
    await ctx.client.send(
      new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: target, UploadId: uploadId }),
      { abortSignal: ctx.signal },
    );
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name !== 'NoSuchUpload' && e.$metadata?.httpStatusCode !== 404) throw storeError(err, ctx.signal);
  }
}

export async function exists(ctx: S3Context, key: string): Promise<boolean> {
  try {
    await ctx.client.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: key }), {
      abortSignal: ctx.signal,
    });
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw storeError(err, ctx.signal);
  }
}
