import type { Transition } from './transition.js';

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

/** One row of the table. */
export type UploadSenderRow = (typeof UPLOAD_SENDER_TRANSITIONS)[number];
/** Where an upload can be: every state the table names. */
export type UploadSenderState = UploadSenderRow['state'] | UploadSenderRow['next'];
/** What can happen to an upload: the table's events. */
export type UploadSenderEvent = UploadSenderRow['event'];
