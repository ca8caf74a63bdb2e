import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FerryError } from '../errors/index.js';
import {
  sameTransferHeader,
  type ChunkEntry,
  type InspectedPartial,
  type ListedPartial,
  type OpenPartialOptions,
  type StoredPartial,
  type StoredPartialReader,
  type SweepablePartialStore,
  type TransferHeader,
} from '../transfer/index.js';
import { PartLayout } from './part-layout.js';
import { MODE_METADATA, MTIME_METADATA, ObjectSource } from './object-source.js';
import { ObjectTree, type ObjectTreeEntry } from './object-tree.js';
import type { S3Location } from './s3-location.js';

/** A finished transfer's object key in the bucket (the store's prefix included). */
export type S3Target = string;

/** Parts kept in memory per open partial before the least recently used is uploaded and dropped. */
const MAX_CACHED_PARTS = 8;

/** A partial key is one safe object-name segment (the server's transfer ids are 32 hex digits). */
const KEY = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * The state object beside a partial's parts: what the file store's `.state` log holds, readable by every
 * server. Rewritten whole by each `makeDurable` (a PUT replaces an object atomically).
 */
interface PartialState {
  readonly v: 1;
  /** Which incarnation of the partial this is (a FRESH or restarted open makes a new one). */
  readonly gen: string;
  /**
   * Which writer's object holds each part: part n is `<key>/<writer>/<n>`. Every open writes its own
   * objects, so a server taking a transfer over never shares an object another server may still write.
   */
  readonly parts?: Readonly<Record<string, string>> | undefined;
  readonly size: number;
  readonly mtimeMs: number;
  readonly chunkBytes: number;
  /** The log: verified chunks whose bytes were uploaded before this state was written. */
  readonly entries: ReadonlyArray<readonly [number, string]>;
  /** A multipart upload started by `finish` and not yet completed (aborted by the sweeper or a reopen). */
  readonly finishing?: Finishing | undefined;
}

function parseState(text: string): PartialState | undefined {
  try {
    const s = JSON.parse(text) as Partial<PartialState>;
    const ok =
      s.v === 1 &&
      typeof s.gen === 'string' &&
      /^[0-9a-f]{16}$/.test(s.gen) &&
      Number.isSafeInteger(s.size) &&
      s.size! >= 0 &&
      Number.isSafeInteger(s.mtimeMs) &&
      Number.isSafeInteger(s.chunkBytes) &&
      s.chunkBytes! > 0 &&
      Array.isArray(s.entries) &&
      s.entries.every(
        (e) =>
          Array.isArray(e) &&
          Number.isSafeInteger(e[0]) &&
          e[0] >= 0 &&
          typeof e[1] === 'string' &&
          /^[0-9a-f]{64}$/.test(e[1]),
      ) &&
      (s.parts === undefined ||
        (typeof s.parts === 'object' &&
          s.parts !== null &&
          Object.entries(s.parts).every(
            ([n, w]) => /^[1-9][0-9]{0,4}$/.test(n) && typeof w === 'string' && /^[0-9a-f]{16}$/.test(w),
          ))) &&
      (s.finishing === undefined ||
        (typeof s.finishing === 'object' &&
          s.finishing !== null &&
          typeof s.finishing.target === 'string' &&
          typeof s.finishing.uploadId === 'string'));
    return ok ? (s as PartialState) : undefined;
  } catch {
    return undefined;
  }
}

function headerOf(state: PartialState): TransferHeader {
  return { size: state.size, mtimeMs: state.mtimeMs, chunkBytes: state.chunkBytes };
}

function entriesOf(state: PartialState): ChunkEntry[] {
  return state.entries.map(([index, hash]) => ({ index, hash: Buffer.from(hash, 'hex') }));
}

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

function isPastEnd(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'InvalidRange' || e.$metadata?.httpStatusCode === 416;
}

/** The object store's failure as ferry's (no key, bucket or endpoint in it: it may reach the wire). */
function storeError(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
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
interface S3Context {
  readonly client: S3Client;
  readonly bucket: string;
  /** `<prefix>.ferry/partial/`: where partials live, beside (and hidden from) the files. */
  readonly partialPrefix: string;
}

async function getBytes(ctx: S3Context, key: string, range?: string): Promise<Buffer | undefined> {
  try {
    const out = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: key, Range: range }));
    return Buffer.from(await out.Body!.transformToByteArray());
  } catch (err) {
    if (isMissing(err) || isPastEnd(err)) return undefined;
    throw storeError(err);
  }
}

async function putBytes(
  ctx: S3Context,
  key: string,
  body: Buffer,
  metadata?: Record<string, string>,
): Promise<void> {
  try {
    await ctx.client.send(
      new PutObjectCommand({ Bucket: ctx.bucket, Key: key, Body: body, Metadata: metadata }),
    );
  } catch (err) {
    throw storeError(err);
  }
}

async function deleteKey(ctx: S3Context, key: string): Promise<void> {
  try {
    await ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: key }));
  } catch (err) {
    if (!isMissing(err)) throw storeError(err);
  }
}

/** Every object under `prefix`, with when it was last written. */
async function listKeys(ctx: S3Context, prefix: string): Promise<Array<{ key: string; modifiedMs: number }>> {
  const out: Array<{ key: string; modifiedMs: number }> = [];
  let token: string | undefined;
  do {
    const page = await ctx.client
      .send(new ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: prefix, ContinuationToken: token }))
      .catch((err: unknown) => {
        throw storeError(err);
      });
    for (const item of page.Contents ?? []) {
      if (item.Key !== undefined) out.push({ key: item.Key, modifiedMs: item.LastModified?.getTime() ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return out;
}

/** Deletes every object under `prefix`. */
async function deleteUnder(ctx: S3Context, prefix: string): Promise<void> {
  for (const { key } of await listKeys(ctx, prefix)) await deleteKey(ctx, key);
}

async function abortUpload(ctx: S3Context, target: string, uploadId: string): Promise<void> {
  try {
    await ctx.client.send(
      new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: target, UploadId: uploadId }),
    );
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name !== 'NoSuchUpload' && e.$metadata?.httpStatusCode !== 404) throw storeError(err);
  }
}

/** Where the finishing multipart upload of a partial points, so a sweeper can abort it. */
interface Finishing {
  readonly target: string;
  readonly uploadId: string;
}

/**
 * Partial transfers in an S3-compatible object store (issue 15; docs/ARCHITECTURE.md, "The object store").
 *
 * A partial of key K is a state object `<prefix>.ferry/partial/K.state` (header, generation, the log of
 * verified chunks, which object holds each part: what every server needs to resume it) and its bytes as
 * part objects `<prefix>.ferry/partial/K/<writer>/<n>`, each open writing its own (a server that lost a
 * transfer to another never writes an object the other reads), part n being a whole number of chunks of at least 5 MiB
 * (`PartLayout`). Part objects are ordinary objects, so any server can re-read and re-hash a part it did
 * not receive with ranged GETs (`verifyLoggedChunks`, as for every store; docs/SECURITY.md): the parts of
 * an unfinished multipart upload cannot be read back through the S3 API at all. `finish` assembles them
 * into the target with one multipart upload of server-side part copies (`UploadPartCopy`) and
 * `CompleteMultipartUpload`, which places the object atomically.
 *
 * Bytes are kept in memory per part until they are uploaded: by `makeDurable` (every part written to, then
 * the state object: data before the log entry vouching for it, PROTOCOL.md §9.2), by `flushWrites`, or when
 * more than {@link MAX_CACHED_PARTS} parts are open; `close` drops what was not uploaded. A part is uploaded as its bytes so far (gaps as zeros) and
 * replaced as it grows, so a resume resends at most the missing bytes plus one part.
 */
export class S3PartialStore implements SweepablePartialStore<string, S3Target> {
  readonly #ctx: S3Context;
  readonly location: S3Location;
  readonly #tree: ObjectTree;

  constructor(client: S3Client, location: S3Location) {
    this.location = location;
    this.#tree = new ObjectTree(client, location);
    this.#ctx = { client, bucket: location.bucket, partialPrefix: `${location.prefix}.ferry/partial/` };
  }

  /** The object key of a file at `relativePath` (already checked by the caller, PROTOCOL.md §7.1). */
  targetOf(relativePath: string): S3Target {
    return `${this.location.prefix}${relativePath}`;
  }

  /** What is at `relativePath` of the served tree (a file, a directory: a prefix), or undefined. */
  statFile(relativePath: string): Promise<ObjectTreeEntry | undefined> {
    return this.#tree.stat(relativePath);
  }

  /** The served tree under `relativeDir` (see ObjectTree.list). */
  listFiles(relativeDir: string, recursive: boolean): Promise<ObjectTreeEntry[]> {
    return this.#tree.list(relativeDir, recursive);
  }

  /** The file at `relativePath`, for a download (ranged GETs of the version opened). */
  openSource(relativePath: string): Promise<ObjectSource> {
    return ObjectSource.open(this.#ctx.client, this.#ctx.bucket, this.targetOf(relativePath));
  }

  /** Whether the object `target` exists now. */
  exists(target: S3Target): Promise<boolean> {
    return exists(this.#ctx, target);
  }

  async open(
    key: string,
    header: TransferHeader,
    options: OpenPartialOptions,
  ): Promise<StoredPartial<S3Target>> {
    const stateKey = this.#stateKey(key);
    const previous = options.fresh || !options.keepLog ? undefined : await this.#loadState(key);
    if (previous?.finishing !== undefined) {
      // A finish that died between starting its multipart upload and completing it.
      await abortUpload(this.#ctx, previous.finishing.target, previous.finishing.uploadId);
    }
    const same = previous !== undefined && sameTransferHeader(headerOf(previous), header);
    if (same) {
      const state: PartialState = { ...previous, finishing: undefined };
      return new S3StoredPartial(this.#ctx, {
        key,
        stateKey,
        state,
        keepLog: true,
        restarted: false,
        resumed: true,
        logged: entriesOf(previous),
      });
    }
    // Another source, FRESH, or no log: whatever was there goes, and a new generation starts empty.
    await this.remove(key);
    const state: PartialState = {
      v: 1,
      gen: randomBytes(8).toString('hex'),
      size: header.size,
      mtimeMs: Math.max(0, Math.trunc(header.mtimeMs)),
      chunkBytes: header.chunkBytes,
      entries: [],
    };
    if (options.keepLog) await putBytes(this.#ctx, stateKey, Buffer.from(JSON.stringify(state)));
    return new S3StoredPartial(this.#ctx, {
      key,
      stateKey,
      state,
      keepLog: options.keepLog,
      restarted: previous !== undefined,
      resumed: false,
      logged: [],
    });
  }

  async inspect(key: string): Promise<InspectedPartial | undefined> {
    const state = await this.#loadState(key);
    if (!state) return undefined;
    const header = headerOf(state);
    return {
      header,
      logged: entriesOf(state),
      reader: new S3PartReader(
        this.#ctx,
        `${this.#ctx.partialPrefix}${key}/`,
        partWriters(state),
        new PartLayout(header.size, header.chunkBytes),
      ),
    };
  }

  /** Every partial with a state object or parts, touched when its newest object was written. */
  async list(): Promise<Array<ListedPartial<string>>> {
    const newest = new Map<string, number>();
    for (const { key, modifiedMs } of await listKeys(this.#ctx, this.#ctx.partialPrefix)) {
      const rest = key.slice(this.#ctx.partialPrefix.length);
      const name =
        rest.endsWith('.state') && !rest.includes('/')
          ? rest.slice(0, -'.state'.length)
          : rest.split('/')[0]!;
      if (!KEY.test(name)) continue;
      newest.set(name, Math.max(newest.get(name) ?? 0, modifiedMs));
    }
    return [...newest].map(([key, touchedMs]) => ({ key, touchedMs }));
  }

  /**
   * Removes a partial: aborts a multipart upload its finish left, deletes every part object of every
   * generation, then the state object (last, so a partial is never parts without the state naming them
   * while it can still be found by its state).
   */
  async remove(key: string): Promise<void> {
    const state = await this.#loadState(key);
    if (state?.finishing !== undefined) {
      await abortUpload(this.#ctx, state.finishing.target, state.finishing.uploadId);
    }
    for (const { key: part } of await listKeys(this.#ctx, `${this.#ctx.partialPrefix}${checkedKey(key)}/`)) {
      await deleteKey(this.#ctx, part);
    }
    await deleteKey(this.#ctx, this.#stateKey(key));
  }

  #stateKey(key: string): string {
    return `${this.#ctx.partialPrefix}${checkedKey(key)}.state`;
  }

  async #loadState(key: string): Promise<PartialState | undefined> {
    const bytes = await getBytes(this.#ctx, this.#stateKey(key));
    return bytes && parseState(bytes.toString('utf8'));
  }
}

/** PartialState.parts as a map. */
function partWriters(state: PartialState): Map<number, string> {
  return new Map(Object.entries(state.parts ?? {}).map(([part, writer]) => [Number(part), writer]));
}

function checkedKey(key: string): string {
  if (!KEY.test(key)) throw new FerryError('INTERNAL', 'a partial key is not a safe object name');
  return key;
}

/** Reads a partial's bytes from its part objects with ranged GETs. */
class S3PartReader implements StoredPartialReader {
  protected readonly ctx: S3Context;
  /** `<partialPrefix><key>/`: every part object of the partial is under it. */
  protected readonly partsPrefix: string;
  /** Which writer's object holds each part (see PartialState.parts); a part without one holds nothing. */
  protected readonly writers: Map<number, string>;
  protected readonly layout: PartLayout;
  protected closed = false;

  constructor(ctx: S3Context, partsPrefix: string, writers: Map<number, string>, layout: PartLayout) {
    this.ctx = ctx;
    this.partsPrefix = partsPrefix;
    this.writers = writers;
    this.layout = layout;
  }

  /** Reads within one part (fewer bytes at a part's end; callers loop). */
  async read(offset: number, into: Buffer): Promise<number> {
    this.assertOpen();
    if (into.length === 0 || offset >= this.layout.size) return 0;
    const part = this.layout.partOf(offset);
    const within = offset - this.layout.startOf(part);
    const length = Math.min(into.length, this.layout.lengthOf(part) - within);
    const cached = this.cached(part);
    if (cached) {
      const end = Math.min(cached.high, within + length);
      return end > within ? cached.bytes.copy(into, 0, within, end) : 0;
    }
    const key = this.partKey(part);
    if (key === undefined) return 0;
    const bytes = await getBytes(this.ctx, key, `bytes=${within}-${within + length - 1}`);
    if (!bytes) return 0;
    return bytes.copy(into, 0, 0, Math.min(bytes.length, length));
  }

  async close(): Promise<void> {
    await Promise.resolve();
    this.closed = true;
  }

  protected cached(_part: number): PartBuffer | undefined {
    return undefined;
  }

  /** The object holding part `n` now, or undefined when no writer stored it. */
  protected partKey(part: number): string | undefined {
    const writer = this.writers.get(part);
    return writer === undefined ? undefined : `${this.partsPrefix}${writer}/${part}`;
  }

  protected assertOpen(): void {
    if (this.closed) throw new FerryError('INTERNAL', 'partial is closed');
  }
}

/** A part's bytes in memory: what was written up to `high`, and whether the store has them yet. */
interface PartBuffer {
  bytes: Buffer;
  high: number;
  dirty: boolean;
}

interface S3StoredPartialParts {
  readonly key: string;
  readonly stateKey: string;
  readonly state: PartialState;
  readonly keepLog: boolean;
  readonly restarted: boolean;
  readonly resumed: boolean;
  readonly logged: readonly ChunkEntry[];
}

class S3StoredPartial extends S3PartReader implements StoredPartial<S3Target> {
  readonly restarted: boolean;
  readonly resumed: boolean;
  readonly logged: readonly ChunkEntry[];
  readonly #stateKey: string;
  readonly #keepLog: boolean;
  #state: PartialState;
  /** Parts in memory, least recently used first (a Map keeps insertion order). */
  readonly #parts = new Map<number, PartBuffer>();
  /** This open's own writer id: the parts it uploads are `<key>/<writer>/<n>`. */
  readonly #writer = randomBytes(8).toString('hex');
  /** A resumed partial appends only after `resetLog`, as the file store does. */
  #logReady: boolean;
  /** Every operation runs in order: a write after a read, a makeDurable after the writes it covers. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(ctx: S3Context, parts: S3StoredPartialParts) {
    const layout = new PartLayout(parts.state.size, parts.state.chunkBytes);
    super(ctx, `${ctx.partialPrefix}${parts.key}/`, partWriters(parts.state), layout);
    this.#stateKey = parts.stateKey;
    this.#state = parts.state;
    this.#keepLog = parts.keepLog;
    this.restarted = parts.restarted;
    this.resumed = parts.resumed;
    this.logged = parts.logged;
    this.#logReady = !parts.resumed;
  }

  #serial<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  override read(offset: number, into: Buffer): Promise<number> {
    return this.#serial(() => super.read(offset, into));
  }

  protected override cached(part: number): PartBuffer | undefined {
    return this.#parts.get(part);
  }

  write(offset: number, data: Buffer): Promise<void> {
    return this.#serial(async () => {
      this.assertOpen();
      if (offset + data.length > this.layout.size) {
        throw new FerryError(
          'INTERNAL',
          `a write to ${offset + data.length} past the size ${this.layout.size}`,
        );
      }
      let done = 0;
      while (done < data.length) {
        const at = offset + done;
        const part = this.layout.partOf(at);
        const buffer = await this.#buffer(part);
        const within = at - this.layout.startOf(part);
        const n = Math.min(data.length - done, buffer.bytes.length - within);
        data.copy(buffer.bytes, within, done, done + n);
        buffer.high = Math.max(buffer.high, within + n);
        buffer.dirty = true;
        done += n;
      }
    });
  }

  flushWrites(): Promise<void> {
    // Landed means in the store: a part read back after this (by anyone) has these bytes.
    return this.#serial(async () => {
      this.assertOpen();
      if (this.#keepLog) await this.#uploadDirty();
    });
  }

  makeDurable(entries: readonly ChunkEntry[]): Promise<void> {
    return this.#serial(async () => {
      this.assertOpen();
      if (!this.#keepLog) return;
      if (!this.#logReady) {
        throw new FerryError('INTERNAL', 'a resumed partial is made durable before its log was reset');
      }
      // Data first, then the state object whose log vouches for it.
      await this.#uploadDirty();
      const logged = [
        ...this.#state.entries,
        ...entries.map((e) => [e.index, e.hash.toString('hex')] as const),
      ];
      await this.#writeState({ ...this.#state, entries: logged });
    });
  }

  resetLog(entries: readonly ChunkEntry[]): Promise<void> {
    return this.#serial(async () => {
      this.assertOpen();
      if (!this.#keepLog) return;
      await this.#writeState({
        ...this.#state,
        entries: entries.map((e) => [e.index, e.hash.toString('hex')] as const),
      });
      this.#logReady = true;
    });
  }

  finish(target: S3Target, options: { mode: number; mtimeMs: number; overwrite: boolean }): Promise<void> {
    return this.#serial(async () => {
      this.assertOpen();
      const metadata = {
        [MODE_METADATA]: (options.mode & 0o7777).toString(8),
        [MTIME_METADATA]: String(Math.max(0, Math.trunc(options.mtimeMs))),
      };
      // S3 (and s3api) have no create-only write, so this check and the placement are two steps: an object
      // placed between them by someone else is replaced (docs/SECURITY.md, "Object store").
      if (!options.overwrite && (await exists(this.ctx, target))) throw new FerryError('FILE_EXISTS');
      if (!this.#keepLog) {
        // One chunk: never uploaded before, placed with one PUT (atomic).
        const only = this.#parts.get(1);
        await putBytes(
          this.ctx,
          target,
          only ? only.bytes.subarray(0, only.high) : Buffer.alloc(0),
          metadata,
        );
        this.#drop();
        return;
      }
      await this.#uploadDirty();
      await this.#assemble(target, metadata);
      this.#drop();
      await deleteUnder(this.ctx, this.partsPrefix);
      await deleteKey(this.ctx, this.#stateKey);
    });
  }

  override close(): Promise<void> {
    return this.#serial(async () => {
      // What was uploaded stays for a later resume; bytes only in memory are dropped, never uploaded late:
      // a server whose session was cut must not write parts after another server took the transfer over.
      this.#drop();
      await Promise.resolve();
    });
  }

  abort(): Promise<void> {
    return this.#serial(async () => {
      this.#drop();
      // Only while the state is still this generation's: a newer open's partial is not ours to remove.
      const current = await getBytes(this.ctx, this.#stateKey);
      const state = current && parseState(current.toString('utf8'));
      if (state?.gen === this.#state.gen) {
        await deleteUnder(this.ctx, this.partsPrefix);
        await deleteKey(this.ctx, this.#stateKey);
      } else {
        await deleteUnder(this.ctx, `${this.partsPrefix}${this.#writer}/`);
      }
    });
  }

  #drop(): void {
    this.closed = true;
    this.#parts.clear();
  }

  /** The part's buffer, loaded from its object when the store has one; evicts the oldest beyond the bound. */
  async #buffer(part: number): Promise<PartBuffer> {
    let buffer = this.#parts.get(part);
    if (buffer) {
      this.#parts.delete(part);
      this.#parts.set(part, buffer);
      return buffer;
    }
    buffer = { bytes: Buffer.alloc(this.layout.lengthOf(part)), high: 0, dirty: false };
    const existing = this.partKey(part);
    if (existing !== undefined) {
      // Another writer's (or an earlier open's) part: its bytes are the start of ours.
      const stored = await getBytes(this.ctx, existing);
      if (stored) buffer.high = stored.copy(buffer.bytes, 0, 0, Math.min(stored.length, buffer.bytes.length));
    }
    this.#parts.set(part, buffer);
    while (this.#parts.size > MAX_CACHED_PARTS) {
      const [oldest, old] = this.#parts.entries().next().value as [number, PartBuffer];
      if (old.dirty) await this.#upload(oldest, old);
      this.#parts.delete(oldest);
    }
    return buffer;
  }

  async #upload(part: number, buffer: PartBuffer): Promise<void> {
    await putBytes(
      this.ctx,
      `${this.partsPrefix}${this.#writer}/${part}`,
      buffer.bytes.subarray(0, buffer.high),
    );
    buffer.dirty = false;
    this.writers.set(part, this.#writer);
  }

  async #uploadDirty(): Promise<void> {
    for (const [part, buffer] of this.#parts) if (buffer.dirty) await this.#upload(part, buffer);
  }

  /** The object of a part `finish` copies; every part must have been stored by then. */
  #heldPart(part: number): string {
    const key = this.partKey(part);
    if (key === undefined) throw new FerryError('INTERNAL', `part ${part} was never stored`);
    return key;
  }

  async #writeState(next: PartialState): Promise<void> {
    // The parts as stored right now: written after the uploads they name (data before log).
    const state: PartialState = {
      ...next,
      parts: Object.fromEntries([...this.writers].map(([part, writer]) => [String(part), writer])),
    };
    await putBytes(this.ctx, this.#stateKey, Buffer.from(JSON.stringify(state)));
    this.#state = state;
  }

  /**
   * One multipart upload of server-side copies of the part objects, completed at once: the target appears
   * whole or not at all. Its id is in the state object while it runs, so a sweeper can abort it.
   */
  async #assemble(target: string, metadata: Record<string, string>): Promise<void> {
    const { client, bucket } = this.ctx;
    let uploadId: string | undefined;
    try {
      const created = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: target, Metadata: metadata }),
      );
      uploadId = created.UploadId!;
      await this.#writeState({ ...this.#state, finishing: { target, uploadId } });
      const parts: Array<{ PartNumber: number; ETag: string }> = [];
      for (let part = 1; part <= this.layout.partCount; part++) {
        const copied = await client.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: target,
            UploadId: uploadId,
            PartNumber: part,
            CopySource: `${bucket}/${encodeURIComponent(this.#heldPart(part)).replace(/%2F/g, '/')}`,
          }),
        );
        parts.push({ PartNumber: part, ETag: copied.CopyPartResult!.ETag! });
      }
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: target,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (err) {
      if (uploadId !== undefined) await abortUpload(this.ctx, target, uploadId).catch(() => undefined);
      throw storeError(err);
    }
  }
}

async function exists(ctx: S3Context, key: string): Promise<boolean> {
  try {
    await ctx.client.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: key }));
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw storeError(err);
  }
}
