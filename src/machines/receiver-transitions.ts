import type { Transition } from './transition.js';

/**
 * The receiver of one transfer (PROTOCOL.md §6.2): the server for an upload, the client for a download. Every
 * event is one row; `stepOf` refuses an event the table does not list for the state (MESSAGE_UNEXPECTED), so
 * the table PROTOCOL.md shows is the one the code obeys (test/machines/state-tables-doc.test.ts).
 */
export const RECEIVER_TRANSITIONS = [
  {
    state: 'receiving',
    event: 'DATA',
    next: 'receiving',
    action:
      'hash, write at the offset; in order from the chunk start, at most 64 open, never a verified chunk or one another stream opened, else `MESSAGE_MALFORMED` (§5.5.1, §5.5.3)',
  },
  {
    state: 'receiving',
    event: 'CHUNK',
    next: 'receiving',
    action:
      'compare hash: verified, made durable once a batch adds up (§9.2); or unverified, `CHUNK_MISMATCH` (§5.5.2)',
  },
  {
    state: 'receiving',
    event: 'DURABLE',
    next: 'receiving',
    action: 'the batch is held; PROGRESS with the verified durable bytes (§5.7, §9.2)',
  },
  {
    state: 'receiving',
    event: 'PART_END',
    next: 'receiving',
    action:
      "a joined stream's end: a chunk it left open is unverified again and fails the end (`MESSAGE_MALFORMED`); a download stripe's digest must be its chunks' (§5.13.4, §5.13.6)",
  },
  {
    state: 'receiving',
    event: 'STREAM_ENDED',
    next: 'receiving',
    action: 'its open chunks become unverified, for another stream to send (§5.5.3, §5.13.5)',
  },
  {
    state: 'receiving',
    event: 'END',
    next: 'finishing',
    action:
      'every chunk verified, none open (else `MESSAGE_MALFORMED`), digest equal: make the rest durable; finish: fsync, rename, fsync directory (§5.6, §9.3)',
  },
  {
    state: 'receiving',
    event: 'END_MISMATCH',
    next: 'closed',
    action: 'digest differs: `DIGEST_MISMATCH`, the partial is discarded (§5.6)',
  },
  {
    state: 'receiving',
    event: 'CLOSE',
    next: 'closed',
    action:
      'CANCEL, ERROR, a failure or the session closing: make the verified chunks durable, keep the partial (§5.9, §9.2)',
  },
  {
    state: 'finishing',
    event: 'DURABLE',
    next: 'finishing',
    action: 'the last batch is held; PROGRESS (§5.7)',
  },
  {
    state: 'finishing',
    event: 'STREAM_ENDED',
    next: 'finishing',
    action: 'nothing is open',
  },
  {
    state: 'finishing',
    event: 'FINISHED',
    next: 'closed',
    action: 'the file is in place: PUT_DONE (uploads); the download is done (§5.11.3)',
  },
  {
    state: 'finishing',
    event: 'CLOSE',
    next: 'closed',
    action: 'placing failed (e.g. `FILE_EXISTS`): the partial is kept',
  },
  {
    state: 'closed',
    event: 'DATA',
    next: 'closed',
    action: "refused for the joined stream's ref: `PATH_NOT_FOUND`, as a late JOIN (§5.13.2, §5.13.5)",
  },
  {
    state: 'closed',
    event: 'CHUNK',
    next: 'closed',
    action: 'refused as DATA',
  },
  {
    state: 'closed',
    event: 'PART_END',
    next: 'closed',
    action: 'refused as DATA',
  },
  {
    state: 'closed',
    event: 'DURABLE',
    next: 'closed',
    action: 'a batch made durable while closing is held; PROGRESS',
  },
  {
    state: 'closed',
    event: 'STREAM_ENDED',
    next: 'closed',
    action: 'nothing is open',
  },
  {
    state: 'closed',
    event: 'CLOSE',
    next: 'closed',
    action: 'nothing (idempotent)',
  },
] as const satisfies readonly Transition[];

/** The receiver's states: one transfer receives, then finishes or closes (its partial kept or discarded). */
export type ReceiverState = (typeof RECEIVER_TRANSITIONS)[number]['state'];
