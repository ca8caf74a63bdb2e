import { statfs } from 'node:fs/promises';
import { FerryError } from '../errors/index.js';

/** How long one free-space reading serves (see `#freeBytes`). */
const FREE_SAMPLE_MS = 250;

/** Default free space a server keeps on its disk. */
export const MIN_FREE_DISK_BYTES = 64 * 1024 * 1024;

/**
 * Disk limits checked before a transfer is accepted, so a refusal comes before any byte is written: the
 * free space the server always keeps, and a per-client byte quota for one server run (counted when an
 * upload is accepted, by its full size; a resumed transfer is not counted twice).
 */
export class StorageLimits {
  readonly #root: string;
  readonly #minFreeDiskBytes: number;
  readonly #clientQuotaBytes: number;
  readonly #used = new Map<string, number>();
  readonly #counted = new Set<string>();
  #sample: { at: number; free: number; reserved: number } | undefined;

  constructor(root: string, options: { minFreeDiskBytes: number; clientQuotaBytes: number }) {
    this.#root = root;
    this.#minFreeDiskBytes = options.minFreeDiskBytes;
    this.#clientQuotaBytes = options.clientQuotaBytes;
  }

  /**
   * Reserves room for `bytes` more of transfer `transferId` by `clientKey`: QUOTA_EXCEEDED or DISK_FULL
   * when it does not fit.
   */
  async reserve(clientKey: Buffer, transferId: string, bytes: number): Promise<void> {
    const client = clientKey.toString('hex');
    const used = this.#used.get(client) ?? 0;
    const counted = this.#counted.has(transferId);
    if (this.#clientQuotaBytes > 0 && !counted && used + bytes > this.#clientQuotaBytes) {
      throw new FerryError(
        'QUOTA_EXCEEDED',
        `${used} of ${this.#clientQuotaBytes} bytes used, ${bytes} more asked`,
      );
    }
    if (this.#minFreeDiskBytes > 0) {
      const free = await this.#freeBytes();
      if (free - bytes < this.#minFreeDiskBytes) {
        throw new FerryError(
          'DISK_FULL',
          `${bytes} bytes would leave less than ${this.#minFreeDiskBytes} free`,
        );
      }
    }
    if (this.#sample) this.#sample.reserved += bytes;
    if (!counted) {
      this.#counted.add(transferId);
      this.#used.set(client, used + bytes);
    }
  }

  /**
   * Free bytes on the root's disk. One statfs serves offers for FREE_SAMPLE_MS, less what those offers
   * reserved meanwhile, so many small files do not cost a statfs each and the estimate only errs low.
   */
  async #freeBytes(): Promise<number> {
    const now = Date.now();
    if (!this.#sample || now - this.#sample.at > FREE_SAMPLE_MS) {
      const fs = await statfs(this.#root);
      this.#sample = { at: now, free: fs.bavail * fs.bsize, reserved: 0 };
    }
    return this.#sample.free - this.#sample.reserved;
  }
}
