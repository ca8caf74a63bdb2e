import { FerryError } from '../errors/index.js';

/**
 * Bytes one client's uploads to an object store may hold in parts at once, over all its sessions: four uploads
 * of 64 MiB chunks (one part each), or about fifty of 5 MiB parts.
 */
export const PART_MEMORY_PER_CLIENT_BYTES = 256 * 1024 * 1024;
/** Bytes all uploads to an object store may hold in parts at once. */
export const PART_MEMORY_TOTAL_BYTES = 1024 * 1024 * 1024;

export interface PartMemoryOptions {
  /** Bytes per client (default PART_MEMORY_PER_CLIENT_BYTES). */
  perClientBytes?: number;
  /** Bytes in total (default PART_MEMORY_TOTAL_BYTES). */
  totalBytes?: number;
}

/** One upload's share of the part memory (see PartMemory.hold). */
export interface PartHold {
  /** Takes `bytes` more if they fit now, never waiting; false when they do not. */
  grow(bytes: number): boolean;
  /** Gives back `bytes` of what `grow` took (never the floor). */
  shrink(bytes: number): void;
  /** Gives back all, the floor too; a second call does nothing. */
  release(): void;
}

/**
 * Bounds the bytes uploads to an object store hold in memory as parts (s3-stored-partial.ts), per client and
 * in total, as DeltaMemory bounds delta uploads. An upload reserves one part (its floor) when its partial is
 * opened, or its offer is refused with SERVER_BUSY (retryable: the client tries again later, as an SSH client
 * whose channel open met a resource shortage); it can always go on in that one part. More parts held at once
 * (writes to several parts: joined streams, out-of-order chunks) are taken only if they fit at once, else the
 * upload stores and drops a part of its own first. Nothing waits, so no upload waits on another.
 */
export class PartMemory {
  readonly #perClient: number;
  readonly #total: number;
  readonly #byClient = new Map<string, number>();
  #heldTotal = 0;
  #peak = 0;

  constructor(options: PartMemoryOptions = {}) {
    this.#total = Math.max(1, options.totalBytes ?? PART_MEMORY_TOTAL_BYTES);
    this.#perClient = Math.min(
      this.#total,
      Math.max(1, options.perClientBytes ?? PART_MEMORY_PER_CLIENT_BYTES),
    );
  }

  /** Bytes held now by every upload together. */
  get heldBytes(): number {
    return this.#heldTotal;
  }

  /** Bytes held now by `client`'s (its key, hex) uploads, listings or downloads, over all its sessions. */
  heldBy(client: string): number {
    return this.#byClient.get(client) ?? 0;
  }

  /** The most ever held at once. */
  get peakBytes(): number {
    return this.#peak;
  }

  /** An upload's share for `client` (its key, hex), its floor of `floorBytes` taken now or SERVER_BUSY. */
  hold(client: string, floorBytes: number): PartHold {
    const floor = Math.max(0, floorBytes);
    if (!this.#add(client, floor)) {
      throw new FerryError(
        'SERVER_BUSY',
        `upload memory is at its limit: ${floor} bytes more do not fit (${this.#heldTotal} of ${this.#total} held)`,
      );
    }
    let extra = 0;
    let released = false;
    return {
      grow: (bytes) => {
        if (released || !this.#add(client, bytes)) return false;
        extra += bytes;
        return true;
      },
      shrink: (bytes) => {
        const given = Math.min(extra, Math.max(0, bytes));
        extra -= given;
        if (!released) this.#remove(client, given);
      },
      release: () => {
        if (released) return;
        released = true;
        this.#remove(client, floor + extra);
      },
    };
  }

  #add(client: string, bytes: number): boolean {
    const mine = this.#byClient.get(client) ?? 0;
    if (this.#heldTotal + bytes > this.#total || mine + bytes > this.#perClient) return false;
    this.#byClient.set(client, mine + bytes);
    this.#heldTotal += bytes;
    this.#peak = Math.max(this.#peak, this.#heldTotal);
    return true;
  }

  #remove(client: string, bytes: number): void {
    const left = (this.#byClient.get(client) ?? 0) - bytes;
    if (left > 0) this.#byClient.set(client, left);
    else this.#byClient.delete(client);
    this.#heldTotal -= bytes;
  }
}
