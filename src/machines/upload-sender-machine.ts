import { FerryError } from '../errors/index.js';
import {
  ChunkHashes,
  ChunkSet,
  HASH_BYTES,
  type CancelMessage,
  type Message,
  type PutAcceptMessage,
  type PutDoneMessage,
  type PutEndMessage,
} from '../protocol/index.js';
import { judgeHeldClaim } from './held-claim.js';
import { missingChunks } from './missing-chunks.js';
import { stepOf, type Transition } from './transition.js';

/**
 * The rules of sending one file up (PROTOCOL.md §5.3-§5.8, §5.13), as the client applies them: PROTOCOL.md
 * §6.3 prints this table, and a test holds the two together. A state says what the client waits for.
 */
export const UPLOAD_SENDER_TRANSITIONS = [
  { state: 'new', event: 'start', next: 'offered', action: 'PUT_OFFER, then wait for PUT_ACCEPT' },
  {
    state: 'new',
    event: 'start, at most one chunk',
    next: 'pipelining',
    action: 'PUT_OFFER, its chunk right behind it without waiting for PUT_ACCEPT (§5.8)',
  },
  {
    state: 'new',
    event: 'start JOIN',
    next: 'joining',
    action: 'PUT_OFFER with JOIN and the primary’s join token on an extra session (§5.13.2)',
  },
  {
    state: 'offered',
    event: 'PUT_ACCEPT, none held',
    next: 'sending',
    action: 'send every chunk; one cursor shared with the joined streams (§5.13.3)',
  },
  {
    state: 'offered',
    event: 'PUT_ACCEPT, chunks held',
    next: 'checking',
    action: 'hash our own chunks that the claim names (§5.4)',
  },
  {
    state: 'offered',
    event: 'PUT_ACCEPT EXISTING',
    next: 'checking',
    action: 'hash our own chunks that the claim names (§5.4)',
  },
  {
    state: 'checking',
    event: 'hashed, claim holds',
    next: 'sending',
    action: 'send only the chunks not held (resume)',
  },
  {
    state: 'checking',
    event: 'hashed, claim differs',
    next: 'reoffered',
    action: 'CANCEL the ref, then PUT_OFFER with FRESH on a new ref; the transfer restarted (§5.4)',
  },
  {
    state: 'checking',
    event: 'hashed, EXISTING identical',
    next: 'closing',
    action: 'no data: PUT_END at once (§5.4)',
  },
  {
    state: 'checking',
    event: 'hashed, EXISTING differs',
    next: 'failed',
    action: 'CANCEL the ref; FILE_EXISTS',
  },
  {
    state: 'checking',
    event: 'source changed',
    next: 'failed',
    action: 'ERROR SOURCE_CHANGED for the ref (§5.6.1)',
  },
  {
    state: 'reoffered',
    event: 'PUT_ACCEPT, none held',
    next: 'sending',
    action: 'send every chunk; report the restart',
  },
  {
    state: 'reoffered',
    event: 'PUT_ACCEPT EXISTING',
    next: 'checking',
    action: 'hash our own chunks that the claim names (§5.4)',
  },
  {
    state: 'pipelining',
    event: 'sent',
    next: 'closing-unanswered',
    action: 'check the source is unchanged (§5.6.1)',
  },
  {
    state: 'pipelining',
    event: 'source changed',
    next: 'failed',
    action: 'ERROR SOURCE_CHANGED for the ref (§5.6.1)',
  },
  { state: 'sending', event: 'sent', next: 'closing', action: 'check the source is unchanged (§5.6.1)' },
  {
    state: 'sending',
    event: 'source changed',
    next: 'failed',
    action: 'ERROR SOURCE_CHANGED for the ref (§5.6.1)',
  },
  { state: 'closing', event: 'unchanged', next: 'ended', action: 'PUT_END with the file digest (§5.6)' },
  {
    state: 'closing',
    event: 'source changed',
    next: 'failed',
    action: 'ERROR SOURCE_CHANGED for the ref in place of PUT_END (§5.6.1)',
  },
  {
    state: 'closing-unanswered',
    event: 'unchanged',
    next: 'ended-unanswered',
    action: 'PUT_END with the file digest (§5.6)',
  },
  {
    state: 'closing-unanswered',
    event: 'source changed',
    next: 'failed',
    action: 'ERROR SOURCE_CHANGED for the ref in place of PUT_END (§5.6.1)',
  },
  {
    state: 'ended-unanswered',
    event: 'PUT_ACCEPT, none held',
    next: 'ended',
    action: 'report the answer; wait for PUT_DONE',
  },
  {
    state: 'ended-unanswered',
    event: 'PUT_ACCEPT, chunks held',
    next: 'ended',
    action: 'report the answer; wait for PUT_DONE (the chunk was sent anyway)',
  },
  {
    state: 'ended-unanswered',
    event: 'PUT_ACCEPT EXISTING',
    next: 'ended',
    action: 'ignored: the digest in PUT_END settles it (§5.8)',
  },
  {
    state: 'ended',
    event: 'PUT_DONE, our digest',
    next: 'done',
    action: 'success (IDENTICAL: the destination was left untouched)',
  },
  { state: 'ended', event: 'PUT_DONE, another digest', next: 'failed', action: 'DIGEST_MISMATCH (§5.6)' },
  {
    state: 'joining',
    event: 'PUT_ACCEPT, none held',
    next: 'joined-sending',
    action: 'take chunks from the primary’s cursor (§5.13.3)',
  },
  {
    state: 'joined-sending',
    event: 'sent',
    next: 'joined-ended',
    action: 'PUT_END with 32 zero bytes (§5.13.4)',
  },
  {
    state: 'joined-sending',
    event: 'source changed',
    next: 'failed',
    action: 'ERROR SOURCE_CHANGED for the ref (§5.6.1)',
  },
  {
    state: 'joined-ended',
    event: 'PUT_DONE PART',
    next: 'done',
    action: 'the primary may end once every joined stream is done (§5.13.4)',
  },
] as const satisfies readonly Transition[];

type Row = (typeof UPLOAD_SENDER_TRANSITIONS)[number];
export type UploadSenderState = Row['state'] | Row['next'];
type UploadSenderEvent = Row['event'];

/** What a finished upload reports (the client's `UploadResult`). */
export interface UploadOutcome {
  readonly size: number;
  /** The file digest (PROTOCOL.md §7.2) the server verified; 32 zero bytes for a joined stream. */
  readonly digest: Buffer;
  /** File bytes sent in this session (excludes chunks the server already held). */
  readonly sentBytes: number;
  /** Bytes the server already held verified when this session started (0 for an identical file). */
  readonly resumedBytes: number;
  /** True when the server's partial did not match this source and the transfer started over. */
  readonly restarted: boolean;
  /** True when the destination already held identical content and was left untouched. */
  readonly identical: boolean;
}

/** What the driver must do next, in order. */
export type UploadEffect =
  /** Open a new ref, send PUT_OFFER on it (FRESH after a mismatch; JOIN for a joined stream), call `offered(ref)`. */
  | { readonly kind: 'offer'; readonly fresh: boolean }
  /** Send this message; a CANCEL's ref is closed first, so what the server still sends for it is dropped. */
  | { readonly kind: 'send'; readonly message: CancelMessage | PutEndMessage }
  /** The server answered the offer: tell the caller how much it holds and whether it restarted. */
  | { readonly kind: 'accepted'; readonly heldBytes: number; readonly restarted: boolean }
  /** Hash these chunks of the source into `hashes` (a check that sends no data), then call `hashed()`. */
  | { readonly kind: 'hash'; readonly chunks: ChunkSet }
  /**
   * Send the chunks `chunks` yields (`streamChunks` into `hashes`), then call `sent(bytes)`. `chunks` is the one
   * cursor joined streams share (PROTOCOL.md §5.13.3); `missing` is how many it yields in all.
   */
  | { readonly kind: 'stream'; readonly chunks: Iterator<number>; readonly missing: number }
  /** Check the source is the file opened, unchanged (PROTOCOL.md §5.6.1); call `unchanged()` or `sourceChanged()`. */
  | { readonly kind: 'check-unchanged' }
  /** Read the ref's next message and pass it to `received()`. */
  | { readonly kind: 'receive' }
  | { readonly kind: 'done'; readonly outcome: UploadOutcome }
  /** The upload failed; with `report`, the server is told with ERROR for the ref (PROTOCOL.md §5.1, §5.6.1). */
  | { readonly kind: 'fail'; readonly error: FerryError; readonly report: boolean };

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

  #step(event: UploadSenderEvent): Row {
    const row = stepOf(UPLOAD_SENDER_TRANSITIONS, this.#state, event);
    this.#state = row.next;
    return row;
  }
}
