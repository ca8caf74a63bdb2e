import { constants as fsConstants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { writeAll } from './batched-writer.js';

/**
 * What direct I/O asks to be aligned to: file offsets, lengths and buffer addresses (the device's logical
 * block, 512 or 4096 bytes on the disks ferry meets; the larger serves both).
 */
export const DIRECT_ALIGN_BYTES = 4096;

/** Bytes written around the page cache in this process, for tests and benches. */
export const DIRECT_WRITE_COUNTERS = { bytes: 0 };

/**
 * Writes into an open file around the page cache (`O_DIRECT`), through a second descriptor of the very file
 * open (reopened through `/proc/self/fd`, never by a name someone could swap meanwhile; checked to be the
 * same inode). For bytes written once and not read back soon: a delta upload's server places its old file's
 * leaves into the new one as it signs them (issue 16: writing 1 GiB of new page cache cost it 0.3-2 CPU s
 * by the VM's memory state, O_DIRECT 0.1 s, and the fsync before the rename has nothing left to write).
 * Where it cannot (no /proc, a file system without direct I/O, a buffer or offset not aligned: EINVAL) it
 * writes nothing and says so, and the caller writes the ordinary way. Durability is unchanged: the file's
 * fsync covers what either descriptor wrote.
 */
export class DirectWriter {
  readonly #file: FileHandle;
  /** The direct descriptor once asked for; undefined inside when this file cannot have one. */
  #direct: Promise<FileHandle | undefined> | undefined;
  /** Set once closed, or once a buffer was refused (EINVAL): every write then returns false. */
  #off = false;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Loans of the direct descriptor not given back (`lend`), and who waits for the last (`close`). */
  #lent = 0;
  #returned: (() => void) | undefined;

  constructor(file: FileHandle) {
    this.#file = file;
  }

  /**
   * Writes `pieces` (contiguous in the file from `offset`), resolving true once they landed, false when it
   * could not write them directly (nothing of them written that the caller's ordinary write would not
   * write again, with the same bytes). Throws a write's other errors (ENOSPC, EIO), as a write would.
   */
  async write(offset: number, pieces: readonly Buffer[]): Promise<boolean> {
    if (this.#off || offset % DIRECT_ALIGN_BYTES !== 0) return false;
    if (pieces.length === 0 || pieces.some((piece) => piece.length % DIRECT_ALIGN_BYTES !== 0)) return false;
    const direct = await (this.#direct ??= this.#open());
    if (direct === undefined || this.#off) return false;
    const writing = writeAll(direct, [...pieces], offset);
    this.#inFlight.add(writing);
    try {
      await writing;
      DIRECT_WRITE_COUNTERS.bytes += pieces.reduce((sum, piece) => sum + piece.length, 0);
      return true;
    } catch (err) {
      // A buffer whose address is not aligned (not from the aligned memory the signing reads into): the
      // rest goes the ordinary way, without a failing system call each.
      if ((err as NodeJS.ErrnoException).code === 'EINVAL') {
        this.#off = true;
        return false;
      }
      throw err;
    } finally {
      this.#inFlight.delete(writing);
    }
  }

  /**
   * The direct descriptor, lent to a writer on another thread (a delta receiver's leaf hash thread writing its
   * old file's leaves through where they lie, issue 16), or undefined when this file has none. The borrower
   * writes only aligned pieces and gives it back (`giveBack`) once no write of its own is in flight; `close`
   * waits for that.
   */
  async lend(): Promise<number | undefined> {
    if (this.#off) return undefined;
    const direct = await (this.#direct ??= this.#open());
    if (direct === undefined || this.#off) return undefined;
    this.#lent++;
    return direct.fd;
  }

  /**
   * A descriptor from `lend` is given back: no write of the borrower's is in flight through it; it wrote
   * `bytes` (counted as this writer's own).
   */
  giveBack(bytes: number): void {
    DIRECT_WRITE_COUNTERS.bytes += bytes;
    if (--this.#lent === 0) this.#returned?.();
  }

  /**
   * Lets every write in flight land and every lent descriptor come back, then closes the direct descriptor;
   * writes after it return false. Idempotent.
   */
  async close(): Promise<void> {
    this.#off = true;
    if (this.#lent > 0) await new Promise<void>((resolve) => (this.#returned = resolve));
    await Promise.allSettled([...this.#inFlight]);
    const direct = await this.#direct;
    this.#direct = Promise.resolve(undefined);
    await direct?.close().catch(() => undefined);
  }

  async #open(): Promise<FileHandle | undefined> {
    let direct: FileHandle;
    try {
      direct = await open(`/proc/self/fd/${this.#file.fd}`, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
    } catch {
      return undefined; // no /proc, or no direct I/O on this file system: the ordinary writes do
    }
    try {
      const [mine, theirs] = await Promise.all([this.#file.stat(), direct.stat()]);
      if (mine.dev === theirs.dev && mine.ino === theirs.ino && theirs.isFile() && !this.#off) return direct;
    } catch {
      // fall through: closed below, and the ordinary writes do
    }
    await direct.close().catch(() => undefined);
    return undefined;
  }
}
