import { FerryError } from '../errors/index.js';
import {
  ChunkHashes,
  ChunkSet,
  HASH_BYTES,
  type Message,
  type PutAcceptMessage,
  type PutDoneMessage,
} from '../protocol/index.js';
import { judgeHeldClaim } from './held-claim.js';
import { missingChunks } from './missing-chunks.js';
import { stepOf } from './transition.js';
import type { UploadEffect } from './upload-effect.js';
import {
  UPLOAD_SENDER_TRANSITIONS,
  type UploadSenderEvent,
  type UploadSenderRow,
  type UploadSenderState,
} from './upload-sender-transitions.js';

export type { UploadEffect } from './upload-effect.js';
export type { UploadOutcome } from './upload-outcome.js';
export { UPLOAD_SENDER_TRANSITIONS, type UploadSenderState } from './upload-sender-transitions.js';

/** How an upload starts: a joined stream, or an offer that waits for its answer. */
export interface UploadSenderOptions {
  /**
   * A joined stream (PROTOCOL.md §5.13): it takes its chunks from the primary's cursor and records their hashes
   * in the primary's table.
   */
  join?: { readonly chunks: Iterator<number>; readonly hashes: ChunkHashes } | undefined;
  /**
   * A DELTA offer (PROTOCOL.md §5.15.1): even a file of one chunk waits for PUT_ACCEPT, whose signature
   * decides what travels, instead of being pipelined whole.
   */
  answerFirst?: boolean | undefined;
}

const ZERO_DIGEST = Buffer.alloc(HASH_BYTES);

/**
 * One upload as the client sends it, without I/O: messages and local facts in, effects out. The driver
 * (client/upload-driver.ts) opens refs, hashes and streams the source and talks to the session; this machine
 * decides what is sent, what is checked and when the upload is over. Its state also says who owns the ref:
 * until PUT_END is sent the sending does, from then on the wait for PUT_DONE (`ended`).
 */
export class UploadSenderMachine {
  /** Our chunk hashes: filled by the driver's hashing and streaming, read for the claims and the digest. */
  readonly hashes: ChunkHashes;
  readonly #join: UploadSenderOptions['join'];
  readonly #answerFirst: boolean;
  #state: UploadSenderState = 'new';
  #ref = 0;
  #accept: PutAcceptMessage | undefined;
  #claimed: ChunkSet | undefined;
  #restarted = false;
  #resumedBytes = 0;
  #sentBytes = 0;
  #digest: Buffer = ZERO_DIGEST;
  #endSent = false;

  constructor(size: number, chunkBytes: number, options: UploadSenderOptions = {}) {
    this.#join = options.join;
    this.#answerFirst = options.answerFirst ?? false;
    this.hashes = options.join?.hashes ?? new ChunkHashes(size, chunkBytes);
  }

  get state(): UploadSenderState {
    return this.#state;
  }

  /** The ref of the current offer (0 before the first). */
  get ref(): number {
    return this.#ref;
  }

  /** True once the end message went out: the ref then belongs to the wait for the answer, not to the sending. */
  get ended(): boolean {
    return this.#endSent;
  }

  /**
   * Starts the upload: a file of at most one chunk is pipelined (PROTOCOL.md §5.8) unless it offers a delta
   * (§5.15.1), a joined stream joins.
   */
  start(): UploadEffect[] {
    if (this.#join) {
      this.#step('start JOIN');
      return [{ kind: 'offer', fresh: false }, { kind: 'receive' }];
    }
    if (this.hashes.count <= 1 && !this.#answerFirst) {
      this.#step('start, at most one chunk');
      const none = new ChunkSet(this.hashes.count);
      return [
        { kind: 'offer', fresh: false },
        { kind: 'stream', chunks: missingChunks(none), missing: this.hashes.count },
      ];
    }
    this.#step('start');
    return [{ kind: 'offer', fresh: false }, { kind: 'receive' }];
  }

  /** The driver opened `ref` for the offer it just sent. */
  offered(ref: number): void {
    this.#ref = ref;
  }

  /** A message the server sent for the ref (an ERROR never gets here: it fails the ref in the session). */
  received(message: Message): UploadEffect[] {
    if (message.type === 'PUT_ACCEPT') return this.#accepted(message);
    if (message.type === 'PUT_DONE') return this.#done(message);
    return this.#fatal(message.type);
  }

  /** The chunks of the last `hash` effect are in `hashes`. */
  hashed(): UploadEffect[] {
    const accept = this.#accept;
    const claimed = this.#claimed;
    if (this.#state !== 'checking' || accept === undefined || claimed === undefined)
      return this.#fatal('hashed');
    // PROTOCOL.md §5.4: the claim must match our own hashes of those chunks.
    const verdict = judgeHeldClaim(this.hashes, claimed, accept.haveDigest);
    if (accept.existing) {
      // Identical means every chunk, each as ours: a claim over fewer chunks proves nothing about the rest.
      if (verdict === 'whole') {
        this.#step('hashed, EXISTING identical');
        return [{ kind: 'check-unchanged' }];
      }
      this.#step('hashed, EXISTING differs');
      return [
        { kind: 'send', message: { type: 'CANCEL', ref: this.#ref } },
        { kind: 'fail', error: new FerryError('FILE_EXISTS'), report: false },
      ];
    }
    if (verdict !== 'differs') {
      this.#step('hashed, claim holds');
      return this.#send(claimed, accept.restarted);
    }
    // End the first offer before the FRESH one: one transfer receives at a time (PROTOCOL.md §6.2).
    this.#step('hashed, claim differs');
    return [
      { kind: 'send', message: { type: 'CANCEL', ref: this.#ref } },
      { kind: 'offer', fresh: true },
      { kind: 'receive' },
    ];
  }

  /** Every chunk of the last `stream` effect was sent (`sentBytes` file bytes, all streams together). */
  sent(sentBytes: number): UploadEffect[] {
    this.#sentBytes = sentBytes;
    const row = this.#step('sent');
    if (row.next === 'joined-ended') {
      this.#endSent = true;
      return [
        { kind: 'send', message: { type: 'PUT_END', ref: this.#ref, fileDigest: ZERO_DIGEST } },
        { kind: 'receive' },
      ];
    }
    return [{ kind: 'check-unchanged' }];
  }

  /** The source is still the file that was opened. */
  unchanged(): UploadEffect[] {
    this.#step('unchanged');
    this.#digest = this.hashes.digest();
    this.#endSent = true;
    return [
      { kind: 'send', message: { type: 'PUT_END', ref: this.#ref, fileDigest: this.#digest } },
      { kind: 'receive' },
    ];
  }

  /** The source changed, or ended early while it was read (SOURCE_CHANGED from the driver). */
  sourceChanged(error: FerryError): UploadEffect[] {
    this.#step('source changed');
    return [{ kind: 'fail', error, report: true }];
  }

  #accepted(accept: PutAcceptMessage): UploadEffect[] {
    // Ranges past the file's chunks are the server's error: ChunkSet refuses them (MESSAGE_MALFORMED).
    const claimed = ChunkSet.fromRanges(this.hashes.count, accept.ranges);
    const from = this.#state;
    const row = this.#step(
      accept.existing
        ? 'PUT_ACCEPT EXISTING'
        : claimed.count > 0
          ? 'PUT_ACCEPT, chunks held'
          : 'PUT_ACCEPT, none held',
    );
    switch (row.next) {
      case 'checking':
        this.#accept = accept;
        this.#claimed = claimed;
        return [{ kind: 'hash', chunks: claimed }];
      case 'sending':
        return this.#send(claimed, from === 'reoffered' || accept.restarted);
      case 'ended':
        // A pipelined file (PROTOCOL.md §5.8): all was sent before this answer, so nothing was resumed.
        return [{ kind: 'accepted', heldBytes: 0, restarted: accept.restarted }, { kind: 'receive' }];
      case 'joined-sending':
        return [{ kind: 'stream', chunks: this.#join!.chunks, missing: this.hashes.count - claimed.count }];
      default:
        throw new FerryError('INTERNAL', `PUT_ACCEPT led to ${row.next}`);
    }
  }

  #send(held: ChunkSet, restarted: boolean): UploadEffect[] {
    this.#restarted = restarted;
    this.#resumedBytes = this.hashes.bytesOf(held);
    return [
      { kind: 'accepted', heldBytes: this.#resumedBytes, restarted },
      { kind: 'stream', chunks: missingChunks(held), missing: this.hashes.count - held.count },
    ];
  }

  #done(reply: PutDoneMessage): UploadEffect[] {
    const ours = reply.fileDigest.equals(this.#digest);
    const row = this.#step(
      reply.part ? 'PUT_DONE PART' : ours ? 'PUT_DONE, our digest' : 'PUT_DONE, another digest',
    );
    if (row.next === 'failed') {
      return [
        {
          kind: 'fail',
          error: new FerryError('DIGEST_MISMATCH', 'server confirmed another digest'),
          report: false,
        },
      ];
    }
    const identical = reply.identical;
    return [
      {
        kind: 'done',
        outcome: {
          size: this.hashes.size,
          digest: this.#digest,
          sentBytes: this.#sentBytes,
          resumedBytes: this.#resumedBytes,
          restarted: this.#restarted,
          identical,
        },
      },
    ];
  }

  /** An event the table has no row for: MESSAGE_UNEXPECTED, as `stepOf` says. */
  #fatal(event: string): never {
    stepOf(UPLOAD_SENDER_TRANSITIONS, this.#state, event);
    throw new FerryError('INTERNAL', `${event} has a row in state ${this.#state} but no handler`);
  }

  #step(event: UploadSenderEvent): UploadSenderRow {
    const row = stepOf(UPLOAD_SENDER_TRANSITIONS, this.#state, event);
    this.#state = row.next;
    return row;
  }
}
