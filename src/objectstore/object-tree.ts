import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { FerryError } from '../errors/index.js';
import { MAX_LIST_ENTRIES, RESERVED_ROOT_COMPONENT } from '../protocol/index.js';
import { fileAttributesOf } from './object-source.js';
import type { S3Location } from './s3-location.js';

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

function storeError(err: unknown, what: string): FerryError {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return new FerryError('IO_ERROR', `object store: ${what} ${status ?? 'failed'}`, { cause: err });
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

  constructor(client: S3Client, location: S3Location) {
    this.#client = client;
    this.#location = location;
  }

  /** What `relativePath` is ('' is the root, a directory), or undefined when nothing is there. */
  async stat(relativePath: string): Promise<ObjectTreeEntry | undefined> {
    if (relativePath === '') return { kind: 'dir', path: '', size: 0, mode: DIR_MODE, mtimeMs: 0 };
    const key = `${this.#location.prefix}${relativePath}`;
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#location.bucket, Key: key }),
      );
      return {
        kind: 'file',
        path: relativePath,
        size: head.ContentLength ?? 0,
        ...fileAttributesOf(head.Metadata, head.LastModified),
      };
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404) throw storeError(err, 'HEAD');
    }
    const page = await this.#client
      .send(new ListObjectsV2Command({ Bucket: this.#location.bucket, Prefix: `${key}/`, MaxKeys: 1 }))
      .catch((err: unknown) => {
        throw storeError(err, 'LIST');
      });
    return (page.KeyCount ?? page.Contents?.length ?? 0) > 0
      ? { kind: 'dir', path: relativePath, size: 0, mode: DIR_MODE, mtimeMs: 0 }
      : undefined;
  }

  /**
   * The entries under the directory `relativeDir` in tree order (a directory before its contents, names
   * sorted), all levels when `recursive`; at most MAX_LIST_ENTRIES (PROTOCOL.md §10), else FILE_TOO_LARGE.
   * A listing reports the time an object was stored; its file mtime travels with a download.
   */
  async list(relativeDir: string, recursive: boolean): Promise<ObjectTreeEntry[]> {
    const base = `${this.#location.prefix}${relativeDir === '' ? '' : `${relativeDir}/`}`;
    const entries = new Map<string, ObjectTreeEntry>();
    const add = (entry: ObjectTreeEntry): void => {
      if (entries.has(entry.path)) return;
      if (entries.size >= MAX_LIST_ENTRIES)
        throw new FerryError('FILE_TOO_LARGE', `a listing of more than ${MAX_LIST_ENTRIES} entries`);
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
        )
        .catch((err: unknown) => {
          throw storeError(err, 'LIST');
        });
      for (const common of page.CommonPrefixes ?? []) {
        const name = common.Prefix?.slice(base.length).replace(/\/$/, '');
        if (name && !(relativeDir === '' && name === RESERVED_ROOT_COMPONENT))
          add({ kind: 'dir', path: name, size: 0, mode: DIR_MODE, mtimeMs: 0 });
      }
      for (const item of page.Contents ?? []) {
        const rest = item.Key?.slice(base.length) ?? '';
        const parts = rest.split('/');
        if (rest === '' || parts.some((p) => p === '')) continue;
        if (relativeDir === '' && parts[0] === RESERVED_ROOT_COMPONENT) continue;
        // Every directory on the way is an entry of its own.
        for (let depth = 1; depth < parts.length; depth++)
          add({ kind: 'dir', path: parts.slice(0, depth).join('/'), size: 0, mode: DIR_MODE, mtimeMs: 0 });
        add({
          kind: 'file',
          path: rest,
          size: item.Size ?? 0,
          mode: 0o644,
          mtimeMs: item.LastModified?.getTime() ?? 0,
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return [...entries.values()].sort((a, b) => treeOrder(a.path, b.path));
  }
}
