import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { FerryError, toFerryError } from '../errors/index.js';
import { ChunkHasher, FILE_MODE_MASK, chunkLength } from '../protocol/index.js';
import type { ChunkSource } from '../transfer/index.js';

/** Largest ranged GET while hashing a chunk: memory stays flat whatever the chunk size. */
const HASH_READ_BYTES = 1024 * 1024;

/** Object metadata carrying what a file system keeps in the inode. */
export const MODE_METADATA = 'ferry-mode';
export const MTIME_METADATA = 'ferry-mtime-ms';
/**
 * The transfer id (a hash of the client's key and the path, transferIdOf) of the upload that placed the
 * object: how any server of a cluster recognises a re-send of the same upload after a lost PUT_DONE, as a
 * disk server does with the placed file's identity (PROTOCOL.md §5.4).
 */
export const TRANSFER_METADATA = 'ferry-transfer';

/** An object's mode and mtime as ferry placed them (metadata), or defaults for an object ferry did not place. */
export function fileAttributesOf(
  metadata: Record<string, string> | undefined,
  lastModified: Date | undefined,
): { mode: number; mtimeMs: number } {
  const mode = Number.parseInt(metadata?.[MODE_METADATA] ?? '', 8);
  const mtimeMs = Number(metadata?.[MTIME_METADATA] ?? Number.NaN);
  return {
    mode: Number.isSafeInteger(mode) ? mode & FILE_MODE_MASK : 0o644,
    mtimeMs: Number.isSafeInteger(mtimeMs) && mtimeMs >= 0 ? mtimeMs : (lastModified?.getTime() ?? 0),
  };
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * A request's failure once `signal` aborted: the abort's own reason (the session's end, a CANCEL), not the
 * store's failure, which it is not (the SDK's AbortError says only that the request was dropped).
 */
function abortedBy(signal: AbortSignal | undefined): FerryError | undefined {
  return signal?.aborted ? toFerryError(signal.reason) : undefined;
}

/**
 * An object being sent (a download from an object store, issue 15): its size, ETag and attributes taken
 * once with HEAD, then read with ranged GETs that carry `If-Match: ETAG`, so a read of another version of
 * the object fails (412) as SOURCE_CHANGED instead of mixing two versions (PROTOCOL.md §5.6.1). Every
 * request, the HEAD too, carries the `signal` it was opened with (the SDK's `abortSignal`): when the session
 * or download that opened it ends, a request in flight is dropped (its connection closed) rather than
 * waited for, as a store that stopped answering would keep it (the SDK sets no request timeout).
 */
export class ObjectSource implements ChunkSource {
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  /** The ETag and size: which version of the object this is. */
  readonly identity: Buffer;
  /** The transfer id of the upload that placed the object (TRANSFER_METADATA), if ferry placed it. */
  readonly placedBy: string | undefined;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #key: string;
  readonly #etag: string;
  readonly #signal: AbortSignal | undefined;

  private constructor(
    client: S3Client,
    bucket: string,
    key: string,
    head: { size: number; etag: string; mode: number; mtimeMs: number; placedBy: string | undefined },
    signal: AbortSignal | undefined,
  ) {
    this.#client = client;
    this.#signal = signal;
    this.#bucket = bucket;
    this.#key = key;
    this.#etag = head.etag;
    this.size = head.size;
    this.mode = head.mode;
    this.mtimeMs = head.mtimeMs;
    this.placedBy = head.placedBy;
    this.identity = createHash('sha256').update(`${head.etag}:${head.size}`).digest();
  }

  /** Opens `key`; PATH_NOT_FOUND when there is no such object. `signal` drops its requests (see above). */
  static async open(
    client: S3Client,
    bucket: string,
    key: string,
    signal?: AbortSignal,
  ): Promise<ObjectSource> {
    let head;
    try {
      head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    } catch (err) {
      const aborted = abortedBy(signal);
      if (aborted) throw aborted;
      if (statusOf(err) === 404)
        throw new FerryError('PATH_NOT_FOUND', 'file does not exist', { cause: err });
      throw new FerryError('IO_ERROR', `object store: HEAD ${statusOf(err) ?? 'failed'}`, { cause: err });
    }
    return new ObjectSource(
      client,
      bucket,
      key,
      {
        size: head.ContentLength ?? 0,
        etag: head.ETag ?? '',
        ...fileAttributesOf(head.Metadata, head.LastModified),
        placedBy: head.Metadata?.[TRANSFER_METADATA],
      },
      signal,
    );
  }

  async readExactly(buffer: Buffer, offset: number, length: number, position: number): Promise<void> {
    if (length === 0) return;
    const bytes = await this.#range(position, length);
    bytes.copy(buffer, offset);
  }

  async readvExactly(buffers: Buffer[], position: number): Promise<void> {
    let total = 0;
    for (const b of buffers) total += b.length;
    if (total === 0) return;
    // One ranged GET for the whole block of records.
    const bytes = await this.#range(position, total);
    let at = 0;
    for (const b of buffers) {
      bytes.copy(b, 0, at, at + b.length);
      at += b.length;
    }
  }

  /**
   * Chunk `index`'s hash (PROTOCOL.md §7.2), read in ranged GETs of at most HASH_READ_BYTES: the same
   * ChunkHasher as every other site, so a held claim on a download from an object store (§5.4) is checked
   * against the hash the client computed, not a plain SHA-256 that never matches it.
   */
  async chunkHash(index: number, chunkBytes: number): Promise<Buffer> {
    const length = chunkLength(index, this.size, chunkBytes);
    const hasher = new ChunkHasher();
    for (let done = 0; done < length;) {
      const n = Math.min(HASH_READ_BYTES, length - done);
      hasher.update(await this.#range(index * chunkBytes + done, n));
      done += n;
    }
    return hasher.digest();
  }

  /** SOURCE_CHANGED unless the object is still the version opened (same ETag and size). */
  async assertUnchanged(): Promise<void> {
    let head;
    try {
      head = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key }), {
        abortSignal: this.#signal,
      });
    } catch (err) {
      const aborted = abortedBy(this.#signal);
      if (aborted) throw aborted;
      if (statusOf(err) === 404) throw new FerryError('SOURCE_CHANGED', 'the object was removed');
      throw new FerryError('IO_ERROR', `object store: HEAD ${statusOf(err) ?? 'failed'}`, { cause: err });
    }
    if (head.ETag !== this.#etag || head.ContentLength !== this.size)
      throw new FerryError('SOURCE_CHANGED', 'the object was replaced');
  }

  async close(): Promise<void> {
    // Nothing held open: every read is its own request.
  }

  /** Exactly `length` bytes at `position` of the version opened. */
  async #range(position: number, length: number): Promise<Buffer> {
    let bytes: Buffer;
    try {
      const out = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key,
          Range: `bytes=${position}-${position + length - 1}`,
          IfMatch: this.#etag,
        }),
        { abortSignal: this.#signal },
      );
      bytes = Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      const aborted = abortedBy(this.#signal);
      if (aborted) throw aborted;
      const status = statusOf(err);
      if (status === 412 || status === 404 || status === 416)
        throw new FerryError('SOURCE_CHANGED', 'the object changed while it was read', { cause: err });
      throw new FerryError('IO_ERROR', `object store: GET ${status ?? 'failed'}`, { cause: err });
    }
    if (bytes.length !== length)
      throw new FerryError('SOURCE_CHANGED', `expected ${length} bytes at ${position}, got ${bytes.length}`);
    return bytes;
  }
}
