import { FerryError } from '../errors/index.js';
import {
  ChunkHashes,
  ChunkSet,
  LEAF_DELTA_FROM_BYTES,
  MAX_DELTA_BLOCKS,
  MAX_TRANSFER_CHUNKS,
  chunkCount,
  deltaBlockBytesFor,
  deltaBlockCount,
  type BytePiece,
  type GetEndMessage,
  type GetOfferMessage,
  type GetRequestMessage,
} from '../protocol/index.js';
import { judgeHeldClaim } from './held-claim.js';
import { missingChunks } from './missing-chunks.js';
import { stepOf, type Transition } from './transition.js';

/**
 * The rules of sending one file down (PROTOCOL.md §5.11, §5.13.6), as the server applies them to a GET_REQUEST:
 * PROTOCOL.md §6.4 prints this table, and a test holds the two together. `new` is a request read whose file
 * is open; nothing comes back from the client once the download is under way (§5.11.3).
 */
export const DOWNLOAD_SENDER_TRANSITIONS = [
  {
    state: 'new',
    event: 'GET_REQUEST, held claim on this size',
    next: 'checking',
    action: 'hash the claimed chunks of the file, from the hash cache where it can (§5.11.2)',
  },
  {
    state: 'new',
    event: 'GET_REQUEST, no claim on this size',
    next: 'sending',
    action: 'GET_OFFER without HELD_ACCEPTED; send every chunk of this stripe',
  },
  {
    state: 'new',
    event: 'GET_REQUEST VERIFY_ONLY',
    next: 'checking',
    action: 'hash every chunk of the file, from the hash cache where it can (§5.11.1)',
  },
  {
    state: 'new',
    event: 'GET_REQUEST SIGNATURE',
    next: 'signing',
    action: 'GET_OFFER with SIGNATURE; hash every leaf, sending its DELTA_BLOCKS records (§5.17.2)',
  },
  {
    state: 'new',
    event: 'GET_REQUEST SIGNATURE, more than 2^18 leaves',
    next: 'sending',
    action: 'GET_OFFER without SIGNATURE; send every chunk (§5.17.2)',
  },
  {
    state: 'signing',
    event: 'signed',
    next: 'closing',
    action: 'check the file is unchanged (§5.6.1)',
  },
  {
    state: 'signing',
    event: 'source changed',
    next: 'failed',
    action: 'ERROR SOURCE_CHANGED for the ref (§5.6.1)',
  },
  {
    state: 'checking',
    event: 'hashed, claim holds',
    next: 'sending',
    action: 'GET_OFFER with HELD_ACCEPTED; send the chunks not held, of this stripe',
  },
  {
    state: 'checking',
    event: 'hashed, claim differs',
    next: 'sending',
    action: 'GET_OFFER without HELD_ACCEPTED; send every chunk of this stripe',
  },
  {
    state: 'checking',
    event: 'hashed, VERIFY_ONLY',
    next: 'closing',
    action: 'GET_OFFER without HELD_ACCEPTED and no chunk; check the file is unchanged (§5.6.1, §5.11.1)',
  },
  {
    state: 'sending',
    event: 'sent',
    next: 'closing',
    action:
      'stripe 0 hashes the chunks the other stripes sent (§5.13.6); check the file is unchanged (§5.6.1)',
  },
  {
    state: 'sending',
    event: 'source changed',
    next: 'failed',
    action: 'ERROR SOURCE_CHANGED for the ref (§5.6.1)',
  },
  {
    state: 'closing',
    event: 'unchanged',
    next: 'ended',
    action: 'GET_END with the file digest, or a joined stripe’s digest over its chunks (§5.13.6)',
  },
  {
    state: 'closing',
    event: 'source changed',
    next: 'failed',
    action: 'ERROR SOURCE_CHANGED for the ref in place of GET_END (§5.6.1)',
  },
] as const satisfies readonly Transition[];

type Row = (typeof DOWNLOAD_SENDER_TRANSITIONS)[number];
export type DownloadSenderState = Row['state'] | Row['next'];
type DownloadSenderEvent = Row['event'];

/** The facts of the file a request names, as the server opened it. */
export interface SentFile {
  readonly size: number;
  readonly mtimeMs: number;
  /** Permission bits (PROTOCOL.md §5.3). */
  readonly mode: number;
}

/** What the driver must do next, in order. */
export type DownloadEffect =
  | { readonly kind: 'send'; readonly message: GetOfferMessage | GetEndMessage }
  /**
   * Hash these chunks of the file into `hashes`. `check`: a check that sends no file data, which the server
   * answers from its hash cache and the client's hashing budget (docs/SECURITY.md "Hashing on request").
   * Call `hashed()` after a check; the others are followed by `check-unchanged` at once.
   */
  | { readonly kind: 'hash'; readonly chunks: Iterable<number>; readonly check: boolean }
  /**
   * Send the chunks `chunks` yields (`streamChunks` into `hashes`), then call `sent(bytes)`. `heldBytes`: what
   * the client already holds, accepted.
   */
  | {
      readonly kind: 'stream';
      readonly chunks: Iterator<number>;
      readonly heldBytes: number;
      /** PATCHED (PROTOCOL.md §5.17.4): of each chunk, send only these pieces (then its hash, as always). */
      readonly patch?: readonly BytePiece[] | undefined;
      /**
       * With `patch`: the bytes of the chunks sent that are read and hashed but not sent (all but the pieces),
       * paid for from the client's hashing budget before the first read, as any hashing that sends no data
       * (docs/SECURITY.md "Hashing on request").
       */
      readonly unsentBytes?: number | undefined;
    }
  /**
   * Hash every leaf of the file into `hashes` (whose chunks are leaves) and send its signature as DELTA_BLOCKS
   * records on the way (PROTOCOL.md §5.17.2), paid for from the client's hashing budget; then call `signed()`.
   */
  | {
      readonly kind: 'sign';
      /** The signature's block size: §5.15.2's rule for the file's size (leaves from 16 MiB on, §5.17.2). */
      readonly blockBytes: number;
    }
  /** Check the file is the one opened, unchanged (PROTOCOL.md §5.6.1); call `unchanged()` or `sourceChanged()`. */
  | { readonly kind: 'check-unchanged' }
  /** Every chunk hash of the file was computed in this download: the hash cache may remember them. */
  | { readonly kind: 'hashed-whole' }
  /** The download is over (GET_END sent). */
  | {
      readonly kind: 'done';
      readonly digest: Buffer;
      readonly sentBytes: number;
      readonly identical: boolean;
    }
  | { readonly kind: 'fail'; readonly error: FerryError };

/**
 * One download as the server sends it, without I/O: the request and the file's facts in, effects out. The
 * driver (server/download-sender.ts) resolves and opens the file, hashes and streams it and sends; this
 * machine decides which claim holds, which chunks go, and what GET_END says.
 */
export class DownloadSenderMachine {
  /** The file's chunk hashes: filled by the driver's hashing and streaming, read for the claim and the digest. */
  readonly hashes: ChunkHashes;
  readonly #request: GetRequestMessage;
  readonly #file: SentFile;
  readonly #striped: boolean;
  #state: DownloadSenderState = 'new';
  #claimed: ChunkSet;
  #held: ChunkSet;
  #sentBytes = 0;

  readonly #fileDigest: (hashes: ChunkHashes) => Buffer;

  /**
   * `request` as decoded (its wire rules checked); `file` the file it names. FILE_TOO_LARGE past the chunk
   * table bound. `fileDigest`: how GET_END's digest is taken over the table (default `ChunkHashes.digest`);
   * the server's remembers the digests it took (`FileDigestMemo`), which a machine holds none of.
   */
  constructor(
    request: GetRequestMessage,
    file: SentFile,
    options: { fileDigest?: (hashes: ChunkHashes) => Buffer } = {},
  ) {
    this.#fileDigest = options.fileDigest ?? ((hashes) => hashes.digest());
    const count = chunkCount(file.size, request.chunkBytes);
    if (count > MAX_TRANSFER_CHUNKS)
      throw new FerryError('FILE_TOO_LARGE', `more than ${MAX_TRANSFER_CHUNKS} chunks; use larger chunks`);
    this.#request = request;
    this.#file = file;
    // A signing's digest is asked once its last leaf is hashed: most of it is taken while it signs.
    this.hashes = new ChunkHashes(file.size, request.chunkBytes, { digestAhead: request.signature === true });
    this.#claimed = new ChunkSet(count);
    this.#held = this.#claimed;
    // PROTOCOL.md §5.13.6: the stripe applies from the size the client named on; below it, one stream.
    this.#striped = request.stripe !== undefined && file.size >= request.stripe.minBytes;
  }

  get state(): DownloadSenderState {
    return this.#state;
  }

  /** Starts answering the request. */
  start(): DownloadEffect[] {
    const { request } = this;
    const count = this.hashes.count;
    // PROTOCOL.md §5.11.1: the client compares locally; it is told the size and digest and tells nothing.
    if (request.verifyOnly) {
      this.#step('GET_REQUEST VERIFY_ONLY');
      return [{ kind: 'hash', chunks: this.hashes.allChunks(), check: true }];
    }
    // PROTOCOL.md §5.17.2: the signature, unless the file has more leaves than a signature may describe; then
    // the answer is the plain one, every chunk (the request holds nothing).
    if (request.signature) {
      if (deltaBlockCount(this.#file.size) > MAX_DELTA_BLOCKS) {
        this.#step('GET_REQUEST SIGNATURE, more than 2^18 leaves');
        return this.#offer(false);
      }
      this.#step('GET_REQUEST SIGNATURE');
      return [
        { kind: 'send', message: this.#offerMessage(false, true) },
        { kind: 'sign', blockBytes: deltaBlockBytesFor(this.#file.size) },
      ];
    }
    // An empty file has no chunks to claim: holding one is holding it all.
    if (request.heldSize === this.#file.size && (request.ranges.length > 0 || count === 0)) {
      this.#step('GET_REQUEST, held claim on this size');
      this.#claimed = ChunkSet.fromRanges(count, request.ranges);
      return [{ kind: 'hash', chunks: this.#claimed, check: true }];
    }
    this.#step('GET_REQUEST, no claim on this size');
    return this.#offer(false, true);
  }

  /** The chunks of the last checking `hash` effect are in `hashes`. */
  hashed(): DownloadEffect[] {
    if (this.#request.verifyOnly) {
      this.#step('hashed, VERIFY_ONLY');
      const [offer] = this.#offer(false);
      return [offer!, { kind: 'check-unchanged' }];
    }
    const verdict = judgeHeldClaim(this.hashes, this.#claimed, this.#request.haveDigest);
    if (verdict !== 'differs') {
      this.#step('hashed, claim holds');
      this.#held = this.#claimed;
      return this.#offer(true, true);
    }
    this.#step('hashed, claim differs');
    return this.#offer(false);
  }

  /** Every leaf of the file is hashed and its signature sent (PROTOCOL.md §5.17.2). */
  signed(): DownloadEffect[] {
    this.#step('signed');
    return [{ kind: 'check-unchanged' }];
  }

  /** Every chunk of the `stream` effect was sent (`sentBytes` file bytes). */
  sent(sentBytes: number): DownloadEffect[] {
    this.#step('sent');
    this.#sentBytes = sentBytes;
    // The primary stripe (0) states the file digest and so hashes the chunks the others sent; a joined stripe
    // proves only its own (PROTOCOL.md §5.13.6), so the file is read twice at most, not once per stream.
    if (this.#striped && !this.#joined) {
      return [
        { kind: 'hash', chunks: missingChunks(this.#held, (index) => !this.#ours(index)), check: false },
        { kind: 'check-unchanged' },
      ];
    }
    return [{ kind: 'check-unchanged' }];
  }

  /** The file is still the one opened: claim its digest. */
  unchanged(): DownloadEffect[] {
    this.#step('unchanged');
    let digest: Buffer;
    if (this.#joined) {
      const mine = new ChunkSet(this.hashes.count);
      for (const index of missingChunks(this.#held, (i) => this.#ours(i))) mine.add(index);
      digest = this.hashes.haveDigest(mine);
    } else {
      digest = this.#fileDigest(this.hashes);
    }
    // A VERIFY_ONLY answer was hashed through the cache already.
    const wholeFile = !this.#joined && this.#held.count === 0 && !this.#request.verifyOnly;
    return [
      ...(wholeFile ? [{ kind: 'hashed-whole' } as const] : []),
      { kind: 'send', message: { type: 'GET_END', ref: this.#request.ref, fileDigest: digest } },
      // `identical` is the client's to know: a VERIFY_ONLY answer is not told the outcome (§5.11.1).
      { kind: 'done', digest, sentBytes: this.#sentBytes, identical: false },
    ];
  }

  /** The file changed, or ended early while it was read (SOURCE_CHANGED from the driver). */
  sourceChanged(error: FerryError): DownloadEffect[] {
    this.#step('source changed');
    return [{ kind: 'fail', error }];
  }

  get request(): GetRequestMessage {
    return this.#request;
  }

  get #joined(): boolean {
    return this.#striped && this.#request.stripe!.index > 0;
  }

  #ours(index: number): boolean {
    const stripe = this.#request.stripe;
    return !this.#striped || index % stripe!.count === stripe!.index;
  }

  /**
   * GET_OFFER and the chunks not held. `patchable`: the claim held or there was none, so a PATCH request's
   * pieces apply (PROTOCOL.md §5.17.4) when they lie inside the file and it is under 16 MiB; a claim that
   * differs (a file changed since its signature), pieces past its end or a file of 16 MiB or more get every
   * chunk whole.
   */
  #offer(heldAccepted: boolean, patchable = false): DownloadEffect[] {
    const { patch } = this.#request;
    const last = patch?.at(-1);
    const patched =
      patchable &&
      last !== undefined &&
      last.offset + last.length <= this.#file.size &&
      // §5.17.4: pieces are for a file whose signature is in blocks under one leaf (under 16 MiB). From 16 MiB
      // on the signature is in leaves (§5.17.2), found whole and claimed: no client asks such a file for
      // pieces unless it grew since the signature, so it is not refused, but its chunks go whole, as for a
      // claim that differs: what the server reads it sends, not every leaf read and hashed for a byte each.
      this.#file.size < LEAF_DELTA_FROM_BYTES;
    const heldBytes = this.hashes.bytesOf(this.#held);
    return [
      { kind: 'send', message: this.#offerMessage(heldAccepted, false, patched) },
      {
        kind: 'stream',
        chunks: missingChunks(this.#held, (index) => this.#ours(index)),
        heldBytes,
        // A patch is never striped (§5.17.4): every chunk not held goes, and of it only the pieces inside it.
        ...(patched
          ? { patch, unsentBytes: this.#file.size - heldBytes - this.#pieceBytesSent(patch!) }
          : {}),
      },
    ];
  }

  /** The bytes of `pieces` that a PATCHED answer sends: those inside chunks not held (a piece never crosses one). */
  #pieceBytesSent(pieces: readonly BytePiece[]): number {
    const { chunkBytes } = this.hashes;
    let bytes = 0;
    for (const { offset, length } of pieces)
      if (!this.#held.has(Math.floor(offset / chunkBytes))) bytes += length;
    return bytes;
  }

  #offerMessage(heldAccepted: boolean, signature: boolean, patched = false): GetOfferMessage {
    const file = this.#file;
    return {
      type: 'GET_OFFER',
      ref: this.#request.ref,
      size: file.size,
      mtimeMs: file.mtimeMs,
      mode: file.mode,
      heldAccepted,
      ...(this.#striped ? { striped: true } : {}),
      ...(signature ? { signature: true } : {}),
      ...(patched ? { patched: true } : {}),
    };
  }

  #step(event: DownloadSenderEvent): Row {
    const row = stepOf(DOWNLOAD_SENDER_TRANSITIONS, this.#state, event);
    this.#state = row.next;
    return row;
  }
}
