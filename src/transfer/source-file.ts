import { open, type FileHandle } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { FerryError } from '../errors/index.js';
import { ChunkHasher, FILE_MODE_MASK, chunkLength } from '../protocol/index.js';
import { assertOpenedAt } from './opened-at.js';

/** Largest single read while hashing a chunk: keeps memory flat whatever the chunk size. */
export const HASH_READ_BYTES = 1024 * 1024;

/** The fields of SourceFile.identity, in order, 8 bytes each. */
const IDENTITY_FIELDS = ['dev', 'inode', 'size', 'mtime', 'ctime'] as const;

/** The identity SourceFile.identity holds, from `stat` with `bigint` (also for files placed by a batch). */
export function identityOf(st: BigIntStats): Buffer {
  const out = Buffer.alloc(IDENTITY_FIELDS.length * 8);
  [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].forEach((v, i) =>
    out.writeBigUInt64BE(BigInt.asUintN(64, v), i * 8),
  );
  return out;
}

/**
 * The file a walk of a local tree found at a name (`walkLocalTree`'s lstat): what a later read of that name
 * must open, for the name (or a directory on its way) may have been swapped for a link since.
 */
export interface WalkedInode {
  readonly dev: number;
  readonly ino: number;
}

/**
 * Refuses a file opened at a walked name that is not the one the walk found there: a local user who may
 * write inside a tree someone sends could swap a directory on its way for a link to theirs, after the walk
 * and before the read, and have the sender's own files uploaded under the walked name (rsync's
 * CVE-2024-12747 on its sending side). The name itself is opened with O_NOFOLLOW by the caller.
 */
export function assertWalkedInode(
  opened: { readonly dev: number | bigint; readonly ino: number | bigint },
  walked: WalkedInode,
  path: string,
): void {
  if (Number(opened.dev) === walked.dev && Number(opened.ino) === walked.ino) return;
  throw new FerryError('SOURCE_CHANGED', 'the file was replaced since the tree was walked', {
    subject: path,
  });
}

/**
 * A local file being sent: opened once (so a rename under us does not switch files), read with
 * positional reads, and checked for changes before its digest is claimed.
 */
export class SourceFile {
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
  /**
   * Which file and which version of it this is: device, inode, size, and mtime and ctime in nanoseconds.
   * ctime cannot be set by users and moves on every write, so an equal identity means unchanged content
   * (the basis of the client's chunk-hash cache).
   */
  readonly identity: Buffer;
  readonly #handle: FileHandle;
  #closed = false;
  /** Descriptors lent out (`lendFd`) and not yet returned: the file stays open until they are. */
  #lent = 0;
  #allReturned: (() => void) | undefined;

  private constructor(handle: FileHandle, st: BigIntStats) {
    this.#handle = handle;
    this.size = Number(st.size);
    this.mtimeMs = Number(st.mtimeMs);
    this.mode = Number(st.mode) & FILE_MODE_MASK;
    this.identity = identityOf(st);
  }

  /**
   * Opens a regular file for reading; anything else (directory, device, fifo) is refused. With
   * `noFollow` a symbolic link in the last component is refused too (the server never reads through one),
   * With `rooted` (`path` is a real root joined with checked names: the server's), a file the kernel reached
   * by another way than `path` is refused too (a directory on it swapped for a link after the walk). With
   * `walked` (a name a walk of a local tree found, `walkLocalTree`), the name is never followed and the file
   * must be the one the walk found (`assertWalkedInode`).
   */
  static async open(
    path: string,
    options: { noFollow?: boolean; rooted?: boolean; walked?: WalkedInode | undefined } = {},
  ): Promise<SourceFile> {
    let handle: FileHandle;
    const noFollow = options.noFollow === true || options.walked !== undefined;
    try {
      // O_NONBLOCK: opening a fifo must not hang; it is refused below as not a regular file.
      handle = await open(
        path,
        fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | (noFollow ? fsConstants.O_NOFOLLOW : 0),
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // `subject` names the file on this side only; it never travels (PROTOCOL.md §5.1).
      if (code === 'ENOENT')
        throw new FerryError('PATH_NOT_FOUND', 'file does not exist', { cause: err, subject: path });
      if (code === 'ELOOP')
        throw new FerryError('PATH_ESCAPES_ROOT', 'file is a symbolic link', { cause: err, subject: path });
      throw err;
    }
    try {
      // A path under a real root: the file opened must be the one the walk checked.
      if (options.rooted) assertOpenedAt(handle.fd, path);
    } catch (err) {
      await handle.close();
      throw err;
    }
    const st = await handle.stat({ bigint: true });
    try {
      if (!st.isFile()) throw new FerryError('PATH_INVALID', 'not a regular file', { subject: path });
      if (options.walked) assertWalkedInode(st, options.walked, path);
    } catch (err) {
      await handle.close();
      throw err;
    }
    return new SourceFile(handle, st);
  }

  /** Reads up to `length` bytes at `position` into `buffer` at `offset`; fails on a short file. */
  async readExactly(buffer: Buffer, offset: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.#handle.read(buffer, offset + done, length - done, position + done);
      if (bytesRead === 0)
        throw new FerryError(
          'SOURCE_CHANGED',
          `file ended at ${position + done}, expected ${this.size} bytes`,
        );
      done += bytesRead;
    }
  }

  /**
   * Fills `buffers` in order with the bytes from `position` on, in as few system calls as possible (one
   * `readv` for a whole block of records); fails on a short file.
   */
  async readvExactly(buffers: Buffer[], position: number): Promise<void> {
    let total = 0;
    for (const b of buffers) total += b.length;
    const { bytesRead } = await this.#handle.readv(buffers, position);
    if (bytesRead === total) return;
    // A short readv (rare for regular files): finish buffer by buffer, which also detects a truncated file.
    let placed = bytesRead;
    let at = position;
    for (const b of buffers) {
      if (placed >= b.length) {
        placed -= b.length;
      } else {
        await this.readExactly(b, placed, b.length - placed, at + placed);
        placed = 0;
      }
      at += b.length;
    }
  }

  /** Reads chunk `index` and returns its SHA-256 (used to check a server's held chunks on resume). */
  async chunkHash(index: number, chunkBytes: number, scratch?: Buffer): Promise<Buffer> {
    const length = chunkLength(index, this.size, chunkBytes);
    const buffer = scratch ?? Buffer.allocUnsafe(Math.min(HASH_READ_BYTES, length));
    const hasher = new ChunkHasher();
    for (let done = 0; done < length;) {
      const n = Math.min(buffer.length, length - done);
      await this.readExactly(buffer, 0, n, index * chunkBytes + done);
      hasher.update(buffer.subarray(0, n));
      done += n;
    }
    return hasher.digest();
  }

  /**
   * Throws SOURCE_CHANGED unless the open file's identity (device, inode, size, mtime and ctime in
   * nanoseconds) is what it was at open (PROTOCOL.md §5.6.1). Called right before the file digest is claimed:
   * the chunk hashes describe the bytes as they were read, so only this check tells that they were read from
   * one version of the file. ctime matters most: a writer can keep the size and put the mtime back, but any
   * write moves the ctime, and nobody can set it.
   */
  async assertUnchanged(): Promise<void> {
    const st = await this.#handle.stat({ bigint: true });
    const now = identityOf(st);
    if (now.equals(this.identity)) return;
    const moved = IDENTITY_FIELDS.filter(
      (_, i) => !now.subarray(i * 8, i * 8 + 8).equals(this.identity.subarray(i * 8, i * 8 + 8)),
    );
    const detail = moved.includes('size') ? `size ${this.size} -> ${st.size}` : `${moved.join(', ')} moved`;
    throw new FerryError('SOURCE_CHANGED', detail);
  }

  /**
   * The open file's descriptor, for positional reads on another thread of this process (a `SealPool` worker
   * reads its own blocks, issue 14). `close` waits until every lent descriptor is returned (`returnFd`): a
   * descriptor closed under a reader could be reused by the next file opened, and read from as this one.
   */
  lendFd(): number {
    if (this.#closed) throw new FerryError('INTERNAL', 'source file is closed');
    this.#lent += 1;
    return this.#handle.fd;
  }

  /**
   * True once `close` was called: a stream reading through a lent descriptor stops taking blocks then, as
   * reads through the handle would fail, and its `close` waits only for the blocks already taken.
   */
  get closing(): boolean {
    return this.#closed;
  }

  /** Gives back a descriptor from `lendFd`, once nothing reads through it any more. */
  returnFd(): void {
    this.#lent -= 1;
    if (this.#lent === 0) this.#allReturned?.();
  }

  /** Idempotent; waits for every lent descriptor to be returned first. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#lent > 0) await new Promise<void>((resolve) => (this.#allReturned = resolve));
    await this.#handle.close();
  }
}
