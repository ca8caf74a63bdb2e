import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  sameTransferHeader,
  type InspectedPartial,
  type ListedPartial,
  type OpenPartialOptions,
  type StoredPartial,
  type StoreCallOptions,
  type SweepablePartialStore,
  type TransferHeader,
} from '../transfer/index.js';
import { PartLayout } from './part-layout.js';
import { ObjectSource } from './object-source.js';
import {
  ObjectTree,
  type ListingAttributes,
  type ObjectRemoval,
  type ObjectTreeEntry,
} from './object-tree.js';
import {
  KEY,
  checkedKey,
  entriesOf,
  headerOf,
  parseState,
  partWriters,
  type PartialState,
} from './partial-state-object.js';
import {
  abortUpload,
  deleteKey,
  exists,
  getBytes,
  listKeys,
  putBytes,
  type PartHold,
  type S3Context,
} from './s3-requests.js';
import { S3PartReader, S3StoredPartial } from './s3-stored-partial.js';
import type { S3Location } from './s3-location.js';
import type { SelfCopyLimits } from './self-copy-in-parts.js';

/** `ctx` whose requests also carry the call's signal (StoreCallOptions): either one aborting drops them. */
function withCallSignal(ctx: S3Context, options: StoreCallOptions): S3Context {
  const { signal } = options;
  if (signal === undefined || signal === ctx.signal) return ctx;
  return { ...ctx, signal: ctx.signal ? AbortSignal.any([ctx.signal, signal]) : signal };
}

/** A finished transfer's object key in the bucket (the store's prefix included). */
export type S3Target = string;

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
 * more than `MAX_CACHED_PARTS` (s3-stored-partial.ts) parts are open or the server's part memory is short
 * (`holdPartsWith`); a part the store has whole is freed once uploaded; `close` drops what was not uploaded.
 * A part is uploaded as its bytes so far (gaps as zeros) and replaced as it grows, so a resume resends at most
 * the missing bytes plus one part.
 */
export class S3PartialStore implements SweepablePartialStore<string, S3Target> {
  /** Set once, by the constructor or by `withSignal` for its view. */
  #ctx: S3Context;
  readonly location: S3Location;
  #tree: ObjectTree;

  /** `options.selfCopy`: when SET_ATTRIBUTES copies an object in parts (S3's 5 GiB limit unless given). */
  constructor(client: S3Client, location: S3Location, options: { selfCopy?: SelfCopyLimits } = {}) {
    this.location = location;
    this.#tree = new ObjectTree(client, location, options.selfCopy);
    this.#ctx = {
      client,
      bucket: location.bucket,
      partialPrefix: `${location.prefix}.ferry/partial/`,
      partLoads: {},
      partMemory: {},
    };
  }

  /**
   * ServerObjectStore: this store for a caller that may stop waiting, every request of every call made
   * through it (its partials' too) carrying `signal` as the SDK's `abortSignal`: S3Context.signal for the
   * partials' requests, ObjectTree.withSignal for the tree's. What it pays and holds is the store's own.
   */
  withSignal(signal: AbortSignal | undefined): S3PartialStore {
    if (signal === undefined) return this;
    const view = new S3PartialStore(this.#ctx.client, this.location);
    view.#ctx = { ...this.#ctx, signal };
    view.#tree = this.#tree.withSignal(signal);
    return view;
  }

  /** ServerObjectStore: who pays a part loaded back while a partial is written (see there). */
  payPartLoads(pay: (transferId: string, bytes: number) => Promise<void>): void {
    this.#ctx.partLoads!.pay = pay;
  }

  /** ServerObjectStore: what reserves the memory a partial holds in parts (see there). */
  holdPartsWith(hold: (transferId: string, floorBytes: number) => PartHold): void {
    this.#ctx.partMemory!.hold = hold;
  }

  /** The object key of a file at `relativePath` (already checked by the caller, PROTOCOL.md §7.1). */
  targetOf(relativePath: string): S3Target {
    return `${this.location.prefix}${relativePath}`;
  }

  /** Refuses a file at `relativePath` under an object or over a directory (see ObjectTree.assertPlaceable). */
  assertPlaceable(
    relativePath: string,
    options: { replaceDir: boolean; checked?: Set<string>; directory?: boolean },
  ): Promise<void> {
    return this.#tree.assertPlaceable(relativePath, options);
  }

  /** What is at `relativePath` of the served tree (a file, a directory: a prefix), or undefined. */
  statFile(relativePath: string): Promise<ObjectTreeEntry | undefined> {
    return this.#tree.stat(relativePath);
  }

  /** The served tree under `relativeDir` (see ObjectTree.list). */
  listFiles(
    relativeDir: string,
    recursive: boolean,
    options?: ListingAttributes,
  ): Promise<ObjectTreeEntry[]> {
    return this.#tree.list(relativeDir, recursive, options);
  }

  /** Removes the object at `relativePath`, one key (see ObjectTree.remove: PROTOCOL.md §5.16). */
  removeEntry(relativePath: string): Promise<ObjectRemoval> {
    return this.#tree.remove(relativePath);
  }

  /** Deletes every key below the directory `relativeDir`, a page at a time (see ObjectTree.removeBelow). */
  removeBelow(relativeDir: string, beforeEach: () => Promise<void>): Promise<void> {
    return this.#tree.removeBelow(relativeDir, beforeEach);
  }

  /** Gives the object at `relativePath` a mode and mtime (see ObjectTree.setAttributes: §5.19). */
  setAttributes(relativePath: string, attributes: { mode: number; mtimeMs: number }): Promise<void> {
    return this.#tree.setAttributes(relativePath, attributes);
  }

  /**
   * The file at `relativePath`, for a download (ranged GETs of the version opened); the signal of this view
   * (`withSignal`) drops its HEAD and every later request in flight when it aborts (ObjectSource).
   */
  openSource(relativePath: string): Promise<ObjectSource> {
    return this.openObject(this.targetOf(relativePath));
  }

  /** The object `target` as it is now, to compare or send (PATH_NOT_FOUND when there is none). */
  openObject(target: S3Target): Promise<ObjectSource> {
    return ObjectSource.open(this.#ctx.client, this.#ctx.bucket, target, this.#ctx.signal);
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
    // Refused (SERVER_BUSY) before a request is made when its largest part does not fit (PartMemory).
    const hold = this.#ctx.partMemory?.hold?.(
      key,
      new PartLayout(header.size, header.chunkBytes).lengthOf(1),
    );
    // Every request of the open and of the partial it opens carries the caller's signal (S3Context.signal),
    // and this view's (withSignal).
    const ctx = withCallSignal(this.#ctx, options);
    try {
      return await this.#open(ctx, key, header, options, hold);
    } catch (err) {
      hold?.release();
      throw err;
    }
  }

  async #open(
    ctx: S3Context,
    key: string,
    header: TransferHeader,
    options: OpenPartialOptions,
    hold: PartHold | undefined,
  ): Promise<StoredPartial<S3Target>> {
    const stateKey = this.#stateKey(key);
    const previous = options.fresh || !options.keepLog ? undefined : await this.#loadState(key, ctx);
    if (previous?.finishing !== undefined) {
      // A finish that died between starting its multipart upload and completing it.
      await abortUpload(ctx, previous.finishing.target, previous.finishing.uploadId);
    }
    const same = previous !== undefined && sameTransferHeader(headerOf(previous), header);
    if (same) {
      const state: PartialState = { ...previous, finishing: undefined };
      return new S3StoredPartial(ctx, {
        key,
        stateKey,
        state,
        keepLog: true,
        restarted: false,
        resumed: true,
        logged: entriesOf(previous),
        hold,
      });
    }
    // Another source, FRESH, or no log: whatever was there goes, and a new generation starts empty.
    await this.#remove(key, ctx);
    const state: PartialState = {
      v: 1,
      gen: randomBytes(8).toString('hex'),
      size: header.size,
      mtimeMs: Math.max(0, Math.trunc(header.mtimeMs)),
      chunkBytes: header.chunkBytes,
      entries: [],
    };
    if (options.keepLog) await putBytes(ctx, stateKey, Buffer.from(JSON.stringify(state)));
    return new S3StoredPartial(ctx, {
      key,
      stateKey,
      state,
      keepLog: options.keepLog,
      restarted: previous !== undefined,
      resumed: false,
      logged: [],
      hold,
    });
  }

  async inspect(key: string): Promise<InspectedPartial | undefined> {
    const state = await this.#loadState(key);
    if (!state) return undefined;
    const header = headerOf(state);
    return {
      header,
      logged: entriesOf(state),
      // Re-hashed always (s3-stored-partial.ts, `unchangedSinceClose`).
      unchangedSinceClose: false,
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
  remove(key: string): Promise<void> {
    return this.#remove(key, this.#ctx);
  }

  async #remove(key: string, ctx: S3Context): Promise<void> {
    const state = await this.#loadState(key, ctx);
    if (state?.finishing !== undefined) {
      await abortUpload(ctx, state.finishing.target, state.finishing.uploadId);
    }
    for (const { key: part } of await listKeys(ctx, `${ctx.partialPrefix}${checkedKey(key)}/`)) {
      await deleteKey(ctx, part);
    }
    await deleteKey(ctx, this.#stateKey(key));
  }

  #stateKey(key: string): string {
    return `${this.#ctx.partialPrefix}${checkedKey(key)}.state`;
  }

  async #loadState(key: string, ctx: S3Context = this.#ctx): Promise<PartialState | undefined> {
    const bytes = await getBytes(ctx, this.#stateKey(key));
    return bytes && parseState(bytes.toString('utf8'));
  }
}
