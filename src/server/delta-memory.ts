import { LEAF_BYTES } from '../protocol/index.js';
import { queuedUntilAdmitted } from './queued-until-admitted.js';

/**
 * The signing's three reads of 64 leaves (sign-leaves.ts, SIGN_PIECES x SIGN_READ_LEAVES, with their weak
 * checksums' slots).
 */
export const DELTA_SIGNING_READ_BYTES = 12 * 1024 * 1024;
/**
 * Memory one delta upload's server side may hold apart from the leaf hashes (PROTOCOL.md §5.15): the copies'
 * four 1 MiB read buffers (delta-old-file.ts, COPY_PIECES x COPY_PIECE_BYTES) and the signing's reads:
 * 4 + 12 MiB, counted for the whole upload.
 */
export const DELTA_FIXED_BYTES = 4 * 1024 * 1024 + DELTA_SIGNING_READ_BYTES;
/** Per leaf of the old file: its SHA-256 kept for the copies (32 bytes) and its placed mark (1 byte). */
export const DELTA_BYTES_PER_LEAF = 33;
/** Delta memory one client may hold at once, over all its sessions: about four uploads of 1 GiB files. */
export const DELTA_MEMORY_PER_CLIENT_BYTES = 64 * 1024 * 1024;
/**
 * Delta memory all clients together may hold at once. Before this bound only the connection limit (1024)
 * bounded it: up to ~20 GiB of buffers and leaf hashes.
 */
export const DELTA_MEMORY_TOTAL_BYTES = 256 * 1024 * 1024;

/** What a delta upload of an old file of `oldSize` bytes holds on the server at most. */
export function deltaMemoryBytes(oldSize: number): number {
  return DELTA_FIXED_BYTES + Math.ceil(oldSize / LEAF_BYTES) * DELTA_BYTES_PER_LEAF;
}

/**
 * What signing a file of `size` bytes in leaves for a delta download holds on the server (PROTOCOL.md §5.17.2):
 * the signing's reads, and per leaf its hash (the download's table, 32 bytes) and weak checksum (4 bytes).
 */
export function deltaSigningBytes(size: number): number {
  return DELTA_SIGNING_READ_BYTES + Math.ceil(size / LEAF_BYTES) * 36;
}

export interface DeltaMemoryOptions {
  /** Bytes per client (default DELTA_MEMORY_PER_CLIENT_BYTES). */
  perClientBytes?: number;
  /** Bytes in total (default DELTA_MEMORY_TOTAL_BYTES). */
  totalBytes?: number;
  /** Told each time a reservation has to wait (tests wait on it instead of on time). */
  onWait?: (client: string) => void;
}

interface Waiter {
  client: string;
  bytes: number;
  admit: () => void;
}

/**
 * Bounds the memory delta uploads hold on the server (their copy buffers, signing reads and the old file's leaf
 * hashes, `deltaMemoryBytes`), per client and shared by all clients, as HashBudget bounds their hashing and
 * BatchAdmission their batches. A delta upload reserves its share when its old file is opened and gives it
 * back when it closes; one that does not fit waits, in arrival order (the first waiting one that fits goes
 * next), never refused: an honest upload only starts later. A session receives one upload at a time (§6.2)
 * and one holding memory never waits for more, so waiting sessions never wait on each other. A reservation
 * larger than a limit is counted as the limit, so one alone always fits.
 */
export class DeltaMemory {
  readonly #perClient: number;
  readonly #total: number;
  readonly #onWait: ((client: string) => void) | undefined;
  readonly #held = new Map<string, number>();
  #heldTotal = 0;
  #peak = 0;
  readonly #waiting: Waiter[] = [];

  constructor(options: DeltaMemoryOptions = {}) {
    this.#total = Math.max(1, options.totalBytes ?? DELTA_MEMORY_TOTAL_BYTES);
    this.#perClient = Math.min(
      this.#total,
      Math.max(1, options.perClientBytes ?? DELTA_MEMORY_PER_CLIENT_BYTES),
    );
    this.#onWait = options.onWait;
  }

  /** Bytes held now by every client together. */
  get heldBytes(): number {
    return this.#heldTotal;
  }

  /** The most ever held at once. */
  get peakBytes(): number {
    return this.#peak;
  }

  /** Reservations waiting now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves once `bytes` more fit for `client` (its key, hex), with their release: call it once when the
   * delta upload's memory is gone (a second call does nothing). With `signal` (the operation's: a CANCEL, the
   * session's end), a reservation still waiting when it aborts leaves the queue and rejects with its reason:
   * a session that ended must not leave a waiter behind (with the file it opened) for memory it never uses.
   */
  async reserve(client: string, bytes: number, signal?: AbortSignal): Promise<() => void> {
    const counted = Math.min(Math.max(0, bytes), this.#perClient);
    // One waiting never fits (each release wakes the first that does), so one that fits goes at once,
    // unless others wait before it: arrival order.
    if (this.#waiting.length === 0 && this.#fits(client, counted) && !signal?.aborted)
      this.#take(client, counted);
    else {
      const queued = queuedUntilAdmitted(
        this.#waiting,
        (admit) => ({ client, bytes: counted, admit }),
        signal,
      );
      this.#onWait?.(client);
      await queued; // taken when woken
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#give(client, counted);
    };
  }

  #fits(client: string, bytes: number): boolean {
    return this.#heldTotal + bytes <= this.#total && (this.#held.get(client) ?? 0) + bytes <= this.#perClient;
  }

  #take(client: string, bytes: number): void {
    this.#held.set(client, (this.#held.get(client) ?? 0) + bytes);
    this.#heldTotal += bytes;
    this.#peak = Math.max(this.#peak, this.#heldTotal);
  }

  #give(client: string, bytes: number): void {
    const held = (this.#held.get(client) ?? bytes) - bytes;
    if (held > 0) this.#held.set(client, held);
    else this.#held.delete(client);
    this.#heldTotal -= bytes;
    // Every waiting reservation that fits now goes, in arrival order; its place is taken here.
    for (let i = 0; i < this.#waiting.length;) {
      const waiter = this.#waiting[i]!;
      if (!this.#fits(waiter.client, waiter.bytes)) {
        i++;
        continue;
      }
      this.#waiting.splice(i, 1);
      this.#take(waiter.client, waiter.bytes);
      waiter.admit();
    }
  }
}
