import type { Buffer } from 'node:buffer';
import type { ChunkRange } from './chunk-ranges.js';

/** The type byte of each message (PROTOCOL.md §5). */
export const MESSAGE_TYPE_CODES = {
  ERROR: 0x01,
  WELCOME: 0x02,
  PUT_OFFER: 0x10,
  PUT_ACCEPT: 0x11,
  PUT_DATA: 0x12,
  PUT_CHUNK: 0x13,
  PUT_END: 0x14,
  PUT_DONE: 0x15,
  PROGRESS: 0x16,
} as const;

/** The name of a message type, the `type` of a {@link Message}. */
export type MessageType = keyof typeof MESSAGE_TYPE_CODES;

/** ERROR (PROTOCOL.md §5.1): `ref` 0 for the session, else the transfer; `code` is a wire code of §8. */
export interface ErrorMessage {
  type: 'ERROR';
  ref: number;
  code: number;
  detail: string;
}

/** WELCOME (PROTOCOL.md §5.2): `permissions` is a PERMISSION_* bit set, `maxFileBytes` 0 for no limit. */
export interface WelcomeMessage {
  type: 'WELCOME';
  permissions: number;
  maxFileBytes: number;
}

/** PUT_OFFER (PROTOCOL.md §5.3): starts a transfer. `path` still needs parseRemotePath (§7.1). */
export interface PutOfferMessage {
  type: 'PUT_OFFER';
  ref: number;
  size: number;
  mtimeMs: number;
  chunkBytes: number;
  mode: number;
  overwrite: boolean;
  fresh: boolean;
  path: string;
}

/** PUT_ACCEPT (PROTOCOL.md §5.4): the chunks the server already holds, and their digest. */
export interface PutAcceptMessage {
  type: 'PUT_ACCEPT';
  ref: number;
  restarted: boolean;
  haveDigest: Buffer;
  ranges: ChunkRange[];
}

/** PUT_DATA (PROTOCOL.md §5.5): file bytes at `offset`; `data` is a view of the decoded record, no copy. */
export interface PutDataMessage {
  type: 'PUT_DATA';
  ref: number;
  offset: number;
  data: Buffer;
}

/** PUT_CHUNK (PROTOCOL.md §5.5.2): the chunk just sent and its SHA-256. */
export interface PutChunkMessage {
  type: 'PUT_CHUNK';
  ref: number;
  index: number;
  chunkHash: Buffer;
}

/** PUT_END (PROTOCOL.md §5.6): the sender's file digest (§7.2). */
export interface PutEndMessage {
  type: 'PUT_END';
  ref: number;
  fileDigest: Buffer;
}

/** PUT_DONE (PROTOCOL.md §5.6): the file is durable under its final name. */
export interface PutDoneMessage {
  type: 'PUT_DONE';
  ref: number;
  fileDigest: Buffer;
}

/** PROGRESS (PROTOCOL.md §5.7): bytes of verified, durable chunks. */
export interface ProgressMessage {
  type: 'PROGRESS';
  ref: number;
  verifiedBytes: number;
}

/** Any decoded protocol message, told apart by `type`. */
export type Message =
  | ErrorMessage
  | WelcomeMessage
  | PutOfferMessage
  | PutAcceptMessage
  | PutDataMessage
  | PutChunkMessage
  | PutEndMessage
  | PutDoneMessage
  | ProgressMessage;
