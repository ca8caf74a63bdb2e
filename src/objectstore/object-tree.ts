import {
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { FerryError, toFerryError } from '../errors/index.js';
import { MAX_LIST_ENTRIES, RESERVED_ROOT_COMPONENT } from '../protocol/index.js';
import { MODE_METADATA, MTIME_METADATA, fileAttributesOf } from './object-source.js';
import type { S3Location } from './s3-location.js';
import {
  DEFAULT_SELF_COPY_LIMITS,
  selfCopyInParts,
  type CopySourceCondition,
  type SelfCopyLimits,
} from './self-copy-in-parts.js';

/** A file or directory as an object store shows it: directories are the prefixes of keys. */
export interface ObjectTreeEntry {
  readonly kind: 'file' | 'dir';
  /** Relative to the listed directory, '/'-separated. */
  readonly path: string;
  readonly size: number;
  readonly mode: number;
  readonly mtimeMs: number;
}

const DIR_MODE = 0o755;

/**
 * HEAD requests in flight while a listing reads the attributes of a page's files: a listing is one HEAD per
 * file (S3's LIST carries no user metadata), so they overlap, but a bounded few per listing.
 */
const ATTRIBUTE_HEADS_IN_FLIGHT = 16;

/** What {@link ObjectTree.remove} found at the path: an object it deleted, or nothing at all. */
export type ObjectRemoval = 'file' | 'nothing';

/**
 * How a listing reads files' attributes (one HEAD each): `attributes: false` sends none (NAMES_ONLY). With
 * them, at most `maxHeads` HEADs for the whole listing (FILE_TOO_LARGE before the page that would pass it),
 * and `beforeHeads` told each page's count before its HEADs go, to pay for them (it may wait).
 */
export interface ListingAttributes {
  attributes: boolean;
  maxHeads?: number | undefined;
  beforeHeads?: ((count: number) => Promise<void>) | undefined;
  /** Paths (relative to the listed directory) left out, with every key below them; before any HEAD. */
  leaveOut?: ((path: string) => boolean) | undefined;
  /**
   * Told each entry as it is collected, before the next LIST page: the listing is held whole until it is
   * sorted, so the caller bounds what it holds here (it throws to end the listing).
   */
  onEntry?: ((entry: ObjectTreeEntry) => void) | undefined;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * The store's failure of a `what` request, as ferry's; once `signal` aborted, the abort's own reason (the
 * session's end): the SDK's AbortError says only that the request was dropped, not that the store failed.
 */
function storeError(err: unknown, what: string, signal: AbortSignal | undefined): FerryError {
  if (signal?.aborted) return toFerryError(signal.reason);
  return new FerryError('IO_ERROR', `object store: ${what} ${statusOf(err) ?? 'failed'}`, { cause: err });
}

/** Compares paths component by component: a directory right before what it holds, names sorted within. */
function treeOrder(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}

/**
 * The files of a server kept in an object store, seen as a tree (issue 15): what LIST needs. Objects under
 * `<prefix>.ferry/` are the server's own state and never shown.
 */
export class ObjectTree {
  readonly #client: S3Client;
  readonly #location: S3Location;
  readonly #selfCopy: SelfCopyLimits;
  /** Every request's: the SDK drops a request whose `abortSignal` aborts (withSignal). */
  readonly #options: { abortSignal?: AbortSignal };

  /**
   * `selfCopy`: when SET_ATTRIBUTES copies in parts (S3's 5 GiB by default; smaller in tests). `signal`: see
   * `withSignal`.
   */
  constructor(
    client: S3Client,
    location: S3Location,
    selfCopy: SelfCopyLimits = DEFAULT_SELF_COPY_LIMITS,
    signal?: AbortSignal,
  ) {
    this.#client = client;
    this.#location = location;
    this.#selfCopy = selfCopy;
    this.#options = signal ? { abortSignal: signal } : {};
  }

  /**
   * The same tree for a caller that may stop waiting: each request carries `signal` as the SDK's
   * `abortSignal` (StoreCallOptions; a dropped request fails as the store's IO_ERROR), the part copies of
   * `selfCopyInParts` too.
   */
  withSignal(signal: AbortSignal | undefined): ObjectTree {
    return signal === undefined ? this : new ObjectTree(this.#client, this.#location, this.#selfCopy, signal);
  }

  /** What `relativePath` is ('' is the root, a directory), or undefined when nothing is there. */
  async stat(relativePath: string): Promise<ObjectTreeEntry | undefined> {
    if (relativePath === '') return { kind: 'dir', path: '', size: 0, mode: DIR_MODE, mtimeMs: 0 };
    const key = this.#keyOf(relativePath);
    const head = await this.#head(key);
    if (head)
      return {
        kind: 'file',
        path: relativePath,
        size: head.ContentLength ?? 0,
        ...fileAttributesOf(head.Metadata, head.LastModified),
      };
    return (await this.#holdsKeys(key))
      ? { kind: 'dir', path: relativePath, size: 0, mode: DIR_MODE, mtimeMs: 0 }
      : undefined;
  }

  /**
   * Refuses to place a file at `relativePath` (checked and confined by the caller, §7.1) where a disk would
   * refuse it, since an object store keeps no tree shape of its own: an object on the way (a file where a
   * directory must be: PATH_INVALID "component N is not a directory") or, unless `replaceDir` (REPLACE_DIR,
   * PROTOCOL.md §5.3), keys below the name (a directory in the way: "destination is a directory"). Else a
   * client placed `a/x` under the file `a`, or `a` over the directory `a/` without OVERWRITE, and the listing
   * then named a file with entries below it, which every recursive download fails. `checked`: directories
   * above already found to be no object (a batch's entries share them). Requests: one HEAD per directory above
   * not in `checked`, and one LIST unless `replaceDir`. With `directory` (PUT_DIR, §5.10) the same look above,
   * and instead of the LIST a HEAD of the name: an object there is FILE_EXISTS, "a file is in the way of the
   * directory", as a disk's mkdir finds it (nothing is made either way: a directory is a prefix).
   */
  async assertPlaceable(
    relativePath: string,
    options: { replaceDir: boolean; checked?: Set<string>; directory?: boolean },
  ): Promise<void> {
    const parts = relativePath.split('/');
    for (let i = 1; i < parts.length; i++) {
      const above = parts.slice(0, i).join('/');
      if (options.checked?.has(above)) continue;
      if (await this.#head(this.#keyOf(above)))
        throw new FerryError('PATH_INVALID', `component ${i} is not a directory`);
      options.checked?.add(above);
    }
    if (options.directory === true) {
      if (await this.#head(this.#keyOf(relativePath)))
        throw new FerryError('FILE_EXISTS', 'a file is in the way of the directory');
      return;
    }
    if (!options.replaceDir && (await this.#holdsKeys(this.#keyOf(relativePath))))
      throw new FerryError('PATH_INVALID', 'destination is a directory');
  }

  /**
   * REMOVE_REQUEST on an object store (PROTOCOL.md §5.16): the object at `relativePath` (already checked
   * and confined by the caller, §7.1) is deleted, that key alone. A directory is only the prefix of the
   * keys under it, so it is empty exactly when nothing is there: a prefix that still holds keys is refused
   * PATH_INVALID as a non-empty directory is on a disk (nothing is deleted: a tree is removed bottom-up, one
   * entry per request), and a path with neither an object nor keys under it is 'nothing', which the caller
   * acknowledges: the directory whose last file went has gone with it, and the store cannot tell it from a
   * name that never was. At most three requests (HEAD, LIST of one key, DELETE) whatever the prefix holds.
   * Partials and the parts of an upload in flight live under `<prefix>.ferry/`, which no client path names;
   * a multipart upload completing at this key later places its object whole, as a rename after an unlink.
   */
  async remove(relativePath: string): Promise<ObjectRemoval> {
    const key = this.#keyOf(relativePath);
    if (await this.#head(key)) {
      try {
        await this.#client.send(
          new DeleteObjectCommand({ Bucket: this.#location.bucket, Key: key }),
          this.#options,
        );
      } catch (err) {
        if (statusOf(err) !== 404) throw storeError(err, 'DELETE', this.#options.abortSignal);
      }
      return 'file';
    }
    if (await this.#holdsKeys(key)) throw new FerryError('PATH_INVALID', 'directory is not empty');
    return 'nothing';
  }

  /**
   * Deletes every key below the directory `relativeDir` (REPLACE_DIR's removal of the directory a file
   * replaced, PROTOCOL.md §5.3), one LIST page at a time, each key told to `beforeEach` (which pays for it)
   * before it goes: nothing is collected, so a prefix of any size holds one page (1000 keys) in memory. Keys
   * with an empty component (`a//b`, `a/`), which no listing names, are left as a listing leaves them.
   */
  async removeBelow(relativeDir: string, beforeEach: () => Promise<void>): Promise<void> {
    const base = `${this.#keyOf(relativeDir)}/`;
    let token: string | undefined;
    do {
      const page = await this.#client
        .send(
          new ListObjectsV2Command({ Bucket: this.#location.bucket, Prefix: base, ContinuationToken: token }),
          this.#options,
        )
        .catch((err: unknown) => {
          throw storeError(err, 'LIST', this.#options.abortSignal);
        });
      for (const item of page.Contents ?? []) {
        const rest = item.Key?.slice(base.length) ?? '';
        if (rest === '' || rest.split('/').some((p) => p === '')) continue;
        await beforeEach();
        try {
          await this.#client.send(
            new DeleteObjectCommand({ Bucket: this.#location.bucket, Key: item.Key }),
            this.#options,
          );
        } catch (err) {
          if (statusOf(err) !== 404) throw storeError(err, 'DELETE', this.#options.abortSignal);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /**
   * SET_ATTRIBUTES on an object store (PROTOCOL.md §5.19): gives the object at `relativePath` (checked and
   * confined by the caller) the mode and mtime a listing and a download report (MODE_METADATA,
   * MTIME_METADATA), the way S3 changes metadata: a CopyObject of the object onto itself with
   * `MetadataDirective: REPLACE`, every other metadata (the placing transfer's id) and the content type kept.
   * The copy is bound to the version the HEAD saw by `x-amz-copy-source-if-match` (its ETag), so an object
   * replaced between the two gets no attributes meant for the old one (SOURCE_CHANGED, nothing changed).
   * Swift's s3api cannot evaluate that condition on an object it assembled from parts (412 while the ETag is
   * unchanged); then the copy is bound by `x-amz-copy-source-if-unmodified-since` to the HEAD's Last-Modified
   * instead, which the store keeps to the second: a replacement placed within the same second as the version
   * seen, between the HEAD and the copy, is not told apart there (docs/ARCHITECTURE.md, "The object store").
   * An object above S3's 5 GiB limit on one copy gets its metadata by a multipart upload of part copies
   * instead, bound the same way (selfCopyInParts). A missing object is PATH_NOT_FOUND, a directory (a prefix)
   * PATH_INVALID.
   */
  async setAttributes(relativePath: string, attributes: { mode: number; mtimeMs: number }): Promise<void> {
    const key = this.#keyOf(relativePath);
    const head = await this.#head(key);
    if (!head) {
      if (await this.#holdsKeys(key)) throw new FerryError('PATH_INVALID', 'not a file');
      throw new FerryError('PATH_NOT_FOUND', 'no file there');
    }
    const metadata = {
      ...head.Metadata,
      [MODE_METADATA]: (attributes.mode & 0o7777).toString(8),
      [MTIME_METADATA]: String(Math.max(0, Math.trunc(attributes.mtimeMs))),
    };
    const copy = async (condition: CopySourceCondition): Promise<void> => {
      if ((head.ContentLength ?? 0) > this.#selfCopy.copyLimitBytes) {
        const bucket = this.#location.bucket;
        await selfCopyInParts(this.#client, { bucket, key, head, metadata }, condition, {
          ...this.#selfCopy,
          signal: this.#options.abortSignal,
        });
        return;
      }
      await this.#client.send(
        new CopyObjectCommand({
          Bucket: this.#location.bucket,
          Key: key,
          CopySource: `${this.#location.bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`,
          MetadataDirective: 'REPLACE',
          Metadata: metadata,
          ...(head.ContentType !== undefined ? { ContentType: head.ContentType } : {}),
          ...condition,
        }),
        this.#options,
      );
    };
    const changed = (): FerryError =>
      new FerryError('SOURCE_CHANGED', 'the object changed while its attributes were set');
    try {
      await copy({ CopySourceIfMatch: head.ETag ?? '' });
      return;
    } catch (err) {
      if (err instanceof FerryError) throw err;
      if (statusOf(err) === 404) throw changed();
      if (statusOf(err) !== 412) throw storeError(err, 'COPY', this.#options.abortSignal);
    }
    // 412: replaced since the HEAD, or a store that cannot check this object's ETag (see above).
    const again = await this.#head(key);
    if (!again || again.ETag !== head.ETag || head.LastModified === undefined) throw changed();
    try {
      await copy({ CopySourceIfUnmodifiedSince: head.LastModified });
    } catch (err) {
      if (err instanceof FerryError) throw err;
      if (statusOf(err) === 412 || statusOf(err) === 404) throw changed();
      throw storeError(err, 'COPY', this.#options.abortSignal);
    }
  }

  /**
   * The entries under the directory `relativeDir` in tree order (a directory before its contents, names
   * sorted), all levels when `recursive`; at most MAX_LIST_ENTRIES (PROTOCOL.md §10), else FILE_TOO_LARGE.
   * A file's mode and mtime are those ferry keeps in its metadata (set by the upload that placed it or by
   * SET_ATTRIBUTES; the time it was stored for an object ferry did not place), as a download and a
   * SELF_ONLY listing report them: S3's LIST carries no user metadata, so each file of a page costs a HEAD,
   * ATTRIBUTE_HEADS_IN_FLIGHT at a time. Without them `ferry sync`'s size-and-mtime check would find every
   * file changed. With `attributes: false` (LIST_REQUEST NAMES_ONLY, PROTOCOL.md §5.12) no HEAD is sent and
   * files' mode and mtime are 0: the listing is its LIST pages alone.
   */
  async list(
    relativeDir: string,
    recursive: boolean,
    options: ListingAttributes = { attributes: true },
  ): Promise<ObjectTreeEntry[]> {
    let heads = 0;
    const base = `${this.#location.prefix}${relativeDir === '' ? '' : `${relativeDir}/`}`;
    const entries = new Map<string, ObjectTreeEntry>();
    const add = (entry: ObjectTreeEntry): void => {
      if (entries.has(entry.path)) return;
      if (entries.size >= MAX_LIST_ENTRIES)
        throw new FerryError('FILE_TOO_LARGE', `a listing of more than ${MAX_LIST_ENTRIES} entries`);
      options.onEntry?.(entry);
      entries.set(entry.path, entry);
    };
    let token: string | undefined;
    do {
      const page = await this.#client
        .send(
          new ListObjectsV2Command({
            Bucket: this.#location.bucket,
            Prefix: base,
            ContinuationToken: token,
            ...(recursive ? {} : { Delimiter: '/' }),
          }),
          this.#options,
        )
        .catch((err: unknown) => {
          throw storeError(err, 'LIST', this.#options.abortSignal);
        });
      for (const common of page.CommonPrefixes ?? []) {
        const name = common.Prefix?.slice(base.length).replace(/\/$/, '');
        if (name && !(relativeDir === '' && name === RESERVED_ROOT_COMPONENT) && !options.leaveOut?.(name))
          add({ kind: 'dir', path: name, size: 0, mode: DIR_MODE, mtimeMs: 0 });
      }
      const files: Array<{ key: string; path: string; size: number }> = [];
      for (const item of page.Contents ?? []) {
        const rest = item.Key?.slice(base.length) ?? '';
        const parts = rest.split('/');
        if (rest === '' || parts.some((p) => p === '')) continue;
        if (relativeDir === '' && parts[0] === RESERVED_ROOT_COMPONENT) continue;
        if (options.leaveOut?.(rest)) continue;
        // Every directory on the way is an entry of its own.
        for (let depth = 1; depth < parts.length; depth++)
          add({ kind: 'dir', path: parts.slice(0, depth).join('/'), size: 0, mode: DIR_MODE, mtimeMs: 0 });
        if (entries.has(rest)) continue;
        files.push({ key: item.Key!, path: rest, size: item.Size ?? 0 });
        // Counted now, attributes filled below: the limit holds before any HEAD is sent.
        add({ kind: 'file', path: rest, size: item.Size ?? 0, mode: 0, mtimeMs: 0 });
      }
      if (options.attributes && files.length > 0) {
        // Bounded per listing, and paid for before they go (docs/SECURITY.md "Object-store listings").
        heads += files.length;
        if (options.maxHeads !== undefined && heads > options.maxHeads)
          throw new FerryError(
            'FILE_TOO_LARGE',
            `a listing with the attributes of more than ${options.maxHeads} files (list names only)`,
          );
        await options.beforeHeads?.(files.length);
        await this.#fillAttributes(files, entries);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return [...entries.values()].sort((a, b) => treeOrder(a.path, b.path));
  }

  /** Sets each listed file's mode and mtime from its HEAD; a file gone since the LIST is left out. */
  async #fillAttributes(
    files: ReadonlyArray<{ key: string; path: string; size: number }>,
    entries: Map<string, ObjectTreeEntry>,
  ): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < files.length) {
        const file = files[next++]!;
        const head = await this.#head(file.key);
        if (!head) entries.delete(file.path);
        else
          entries.set(file.path, {
            kind: 'file',
            path: file.path,
            size: head.ContentLength ?? file.size,
            ...fileAttributesOf(head.Metadata, head.LastModified),
          });
      }
    };
    await Promise.all(Array.from({ length: Math.min(ATTRIBUTE_HEADS_IN_FLIGHT, files.length) }, worker));
  }

  #keyOf(relativePath: string): string {
    return `${this.#location.prefix}${relativePath}`;
  }

  /** The object's HEAD, or undefined when there is no object at `key`. */
  async #head(key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#location.bucket, Key: key }),
        this.#options,
      );
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw storeError(err, 'HEAD', this.#options.abortSignal);
    }
  }

  /** Whether any key lies under `key/`: a directory, in a store whose directories are prefixes. */
  async #holdsKeys(key: string): Promise<boolean> {
    const page = await this.#client
      .send(
        new ListObjectsV2Command({ Bucket: this.#location.bucket, Prefix: `${key}/`, MaxKeys: 1 }),
        this.#options,
      )
      .catch((err: unknown) => {
        throw storeError(err, 'LIST', this.#options.abortSignal);
      });
    return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
  }
}
