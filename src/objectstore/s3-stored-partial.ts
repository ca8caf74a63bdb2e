import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { FerryError } from '../errors/index.js';
import type { ChunkEntry, FinishOptions, StoredPartial, StoredPartialReader } from '../transfer/index.js';
import { MODE_METADATA, MTIME_METADATA, TRANSFER_METADATA } from './object-source.js';
import { PartLayout } from './part-layout.js';
import { parseState, partWriters, type PartialState } from './partial-state-object.js';
import {
  abortUpload,
  deleteKey,
  deleteUnder,
  exists,
  getBytes,
  putBytes,
  storeError,
  type PartHold,
  type S3Context,
} from './s3-requests.js';
import type { S3Target } from './s3-partial-store.js';

/**
 * Parts kept in memory per open partial before the least recently used is uploaded and dropped; fewer when the
 * server's part memory (the partial's hold) is short. A part the store has whole is dropped at once.
 */
const MAX_CACHED_PARTS = 8;

/** Reads a partial's bytes from its part objects with ranged GETs. */
export class S3PartReader implements StoredPartialReader {
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

/**
 * A part's bytes in memory: what was written up to `high`, which ranges were written (`written`, sorted and
 * apart: the part is complete when one range covers it), and whether the store has them yet.
 */
interface PartBuffer {
  bytes: Buffer;
  high: number;
  written: Array<[number, number]>;
  dirty: boolean;
}

/** `ranges` with `[start, end)` added, merged (a sequential writer keeps one range). */
function withRange(ranges: Array<[number, number]>, start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [a, b] of ranges) {
    if (b < start || a > end) out.push([a, b]);
    else {
      start = Math.min(start, a);
      end = Math.max(end, b);
    }
  }
  out.push([start, end]);
  return out.sort((x, y) => x[0] - y[0]);
}

/** Whether every byte of the part was written (or loaded). */
function complete(buffer: PartBuffer): boolean {
  const [first] = buffer.written;
  return buffer.written.length === 1 && first![0] === 0 && first![1] === buffer.bytes.length;
}

export interface S3StoredPartialParts {
  readonly key: string;
  readonly stateKey: string;
  readonly state: PartialState;
  readonly keepLog: boolean;
  readonly restarted: boolean;
  readonly resumed: boolean;
  readonly logged: readonly ChunkEntry[];
  /** This partial's share of the server's part memory (its largest part taken already), if bounded. */
  readonly hold?: PartHold | undefined;
}

export class S3StoredPartial extends S3PartReader implements StoredPartial<S3Target> {
  readonly restarted: boolean;
  readonly resumed: boolean;
  readonly logged: readonly ChunkEntry[];
  /**
   * Never: an object store's partial is always re-hashed on resume (PROTOCOL.md §9.2). Its parts are
   * objects any server of a cluster may rewrite, and their ETags are no content identity the S3 API
   * promises (MD5 only for some unencrypted PUTs, opaque otherwise), so nothing binds them to the bytes.
   */
  readonly unchangedSinceClose = false;
  readonly #stateKey: string;
  /** The partial's key: the transfer id, recorded on the object it becomes (TRANSFER_METADATA). */
  readonly #key: string;
  readonly #keepLog: boolean;
  #state: PartialState;
  /** Parts in memory, least recently used first (a Map keeps insertion order). */
  readonly #parts = new Map<number, PartBuffer>();
  /** This open's own writer id: the parts it uploads are `<key>/<writer>/<n>`. */
  readonly #writer = randomBytes(8).toString('hex');
  /** A resumed partial appends only after `resetLog`, as the file store does. */
  #logReady: boolean;
  readonly #hold: PartHold | undefined;
  /** Bytes of the buffers in #parts, and what the hold covers: the floor (the largest part) and what grew. */
  #heldBytes = 0;
  #reservedBytes: number;
  /** Every operation runs in order: a write after a read, a makeDurable after the writes it covers. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(ctx: S3Context, parts: S3StoredPartialParts) {
    const layout = new PartLayout(parts.state.size, parts.state.chunkBytes);
    super(ctx, `${ctx.partialPrefix}${parts.key}/`, partWriters(parts.state), layout);
    this.#stateKey = parts.stateKey;
    this.#key = parts.key;
    this.#state = parts.state;
    this.#keepLog = parts.keepLog;
    this.restarted = parts.restarted;
    this.resumed = parts.resumed;
    this.logged = parts.logged;
    this.#logReady = !parts.resumed;
    this.#hold = parts.hold;
    this.#reservedBytes = layout.lengthOf(1);
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
        buffer.written = withRange(buffer.written, within, within + n);
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

  finish(target: S3Target, options: FinishOptions): Promise<void> {
    return this.#serial(async () => {
      this.assertOpen();
      const metadata = {
        [MODE_METADATA]: (options.mode & 0o7777).toString(8),
        [MTIME_METADATA]: String(Math.max(0, Math.trunc(options.mtimeMs))),
        [TRANSFER_METADATA]: this.#key,
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
    this.#heldBytes = 0;
    this.#hold?.release();
  }

  /** Frees a part's buffer, and what the hold took for it beyond the floor. */
  #forget(part: number): void {
    const buffer = this.#parts.get(part);
    if (!buffer) return;
    this.#parts.delete(part);
    this.#heldBytes -= buffer.bytes.length;
    const floor = this.layout.lengthOf(1);
    const spare = this.#reservedBytes - Math.max(floor, this.#heldBytes);
    if (spare > 0) {
      this.#hold?.shrink(spare);
      this.#reservedBytes -= spare;
    }
  }

  /** Frees every part the store has whole: no write needs it again (a resume or a stray write loads it, paid). */
  #forgetStored(): void {
    for (const [part, buffer] of [...this.#parts]) if (!buffer.dirty && complete(buffer)) this.#forget(part);
  }

  /**
   * Room for `bytes` more in memory: within the count, and taken from the hold, or made by storing and freeing
   * this partial's least recently used parts (the floor covers its largest part, so one always fits).
   */
  async #makeRoom(bytes: number): Promise<void> {
    this.#forgetStored();
    for (;;) {
      const short = this.#heldBytes + bytes - this.#reservedBytes;
      const fits =
        this.#parts.size < MAX_CACHED_PARTS &&
        (short <= 0 || this.#hold === undefined || this.#hold.grow(short));
      if (fits) {
        if (short > 0 && this.#hold !== undefined) this.#reservedBytes += short;
        return;
      }
      const [oldest, old] = this.#parts.entries().next().value as [number, PartBuffer];
      if (old.dirty) await this.#upload(oldest, old);
      this.#forget(oldest);
    }
  }

  /** The part's buffer, loaded from its object when the store has one; makes room first (#makeRoom). */
  async #buffer(part: number): Promise<PartBuffer> {
    let buffer = this.#parts.get(part);
    if (buffer) {
      this.#parts.delete(part);
      this.#parts.set(part, buffer);
      return buffer;
    }
    const length = this.layout.lengthOf(part);
    await this.#makeRoom(length);
    buffer = { bytes: Buffer.alloc(length), high: 0, written: [], dirty: false };
    const existing = this.partKey(part);
    if (existing !== undefined) {
      // Another writer's (or an earlier open's) part: its bytes are the start of ours. Loading it back is paid
      // first: writes spread over more parts than are held load and upload a part each, whatever their size.
      await this.ctx.partLoads?.pay?.(this.#key, this.layout.lengthOf(part));
      const stored = await getBytes(this.ctx, existing);
      if (stored) buffer.high = stored.copy(buffer.bytes, 0, 0, Math.min(stored.length, buffer.bytes.length));
      if (buffer.high > 0) buffer.written = [[0, buffer.high]];
    }
    this.#parts.set(part, buffer);
    this.#heldBytes += length;
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
    this.#forgetStored();
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
    const { client, bucket, signal } = this.ctx;
    let uploadId: string | undefined;
    try {
      const created = await client.send(
        new CreateMultipartUploadCommand({ Bucket: bucket, Key: target, Metadata: metadata }),
        { abortSignal: signal },
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
          { abortSignal: signal },
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
        { abortSignal: signal },
      );
    } catch (err) {
      if (uploadId !== undefined) await abortUpload(this.ctx, target, uploadId).catch(() => undefined);
      throw storeError(err, signal);
    }
  }
}
