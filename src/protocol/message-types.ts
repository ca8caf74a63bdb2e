import type { Buffer } from 'node:buffer';
import type { ChunkRange } from './chunk-ranges.js';

/** The type byte of each message (PROTOCOL.md §5). */
export const MESSAGE_TYPE_CODES = {
  ERROR: 0x01,
  WELCOME: 0x02,
  ACK: 0x03,
  CANCEL: 0x04,
  KEEPALIVE: 0x06,
  PUT_OFFER: 0x10,
  PUT_ACCEPT: 0x11,
  PUT_DATA: 0x12,
  PUT_CHUNK: 0x13,
  PUT_END: 0x14,
  PUT_DONE: 0x15,
  PROGRESS: 0x16,
  PUT_DIR: 0x17,
  PUT_LINK: 0x18,
  PUT_BATCH: 0x19,
  BATCH_END: 0x1a,
  BATCH_DONE: 0x1b,
  DELTA_BLOCKS: 0x1c,
  PUT_COPY: 0x1d,
  GET_REQUEST: 0x20,
  GET_OFFER: 0x21,
  GET_DATA: 0x22,
  GET_CHUNK: 0x23,
  GET_END: 0x24,
  LIST_REQUEST: 0x30,
  LIST_ENTRIES: 0x31,
  LIST_END: 0x32,
  REMOVE_REQUEST: 0x34,
  SET_ATTRIBUTES: 0x35,
  KEY_COMMIT: 0x50,
  KEY_ROTATE: 0x51,
  GET_BATCH: 0x25,
  GET_BATCH_DATA: 0x26,
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

/**
 * KEY_COMMIT (PROTOCOL.md §13.2): the server's commitment to its next static key, SHA-256 of its public key,
 * sent right after WELCOME; the client records it once, with the pin (pre-rotation).
 */
export interface KeyCommitMessage {
  type: 'KEY_COMMIT';
  commitment: Buffer;
}

/**
 * KEY_ROTATE (PROTOCOL.md §13.3): the server's new static key, the commitment to the key after it, and the
 * proof that it holds the new key, bound to this session; sent right after WELCOME in place of KEY_COMMIT.
 */
export interface KeyRotateMessage {
  type: 'KEY_ROTATE';
  newKey: Buffer;
  nextCommitment: Buffer;
  proof: Buffer;
}

/** ACK (PROTOCOL.md §5.9): the server confirms the PUT_DIR, PUT_LINK, REMOVE_REQUEST or SET_ATTRIBUTES `ref`. */
export interface AckMessage {
  type: 'ACK';
  ref: number;
}

/** CANCEL (PROTOCOL.md §5.9): the client ends its transfer `ref`; the server keeps the partial. */
export interface CancelMessage {
  type: 'CANCEL';
  ref: number;
}

/**
 * KEEPALIVE (PROTOCOL.md §5.18): the server is still working for the client and has sent nothing for a while;
 * no ref, empty body, ignored by the client in any open state. It only moves bytes, for the stall watchdog.
 */
export interface KeepaliveMessage {
  type: 'KEEPALIVE';
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
  /**
   * JOIN (PROTOCOL.md §5.13.2): attach as an extra stream, proving it with the primary's join token (16 bytes,
   * from its PUT_ACCEPT); absent means no JOIN.
   */
  join?: Buffer;
  /** DELTA (PROTOCOL.md §5.15.1): with `overwrite`, ask for the old file's signature; absent means no. */
  delta?: true;
  /**
   * REPLACE_DIR (PROTOCOL.md §5.3): with `overwrite`, a directory at `path` goes, with all it holds, when the
   * file is placed; absent means no.
   */
  replaceDir?: true;
  /**
   * NOT_UTF8 (PROTOCOL.md §5.3): with `replaceDir`, names that are not UTF-8 below the directory go too;
   * absent means they are kept, and the replacement fails if there are any.
   */
  notUtf8?: true;
  path: string;
}

/** PUT_ACCEPT (PROTOCOL.md §5.4): the chunks the server already holds, and their digest. */
export interface PutAcceptMessage {
  type: 'PUT_ACCEPT';
  ref: number;
  restarted: boolean;
  /** The destination exists with the offered size; `ranges` list every chunk of it (§5.4 `EXISTING`). */
  existing: boolean;
  /** DELTA (PROTOCOL.md §5.15.1): DELTA_BLOCKS records of the old file follow; absent means none. */
  delta?: true;
  haveDigest: Buffer;
  /**
   * The token a joined stream must present (§5.13.2): 16 random bytes when the transfer accepts joins, 16 zero
   * bytes when it does not (EXISTING, or the answer to a JOIN).
   */
  joinToken: Buffer;
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

/**
 * DELTA_BLOCKS (PROTOCOL.md §5.15.2): blocks `firstBlock` to `firstBlock + weak.length − 1` of the
 * signature of the old file of `oldSize` bytes; `strong` holds `weak.length` truncated leaf hashes back to back.
 */
export interface DeltaBlocksMessage {
  type: 'DELTA_BLOCKS';
  ref: number;
  oldSize: number;
  /** The signature's block size (§5.15.2): a multiple of 64 from 1 KiB to 64 KiB; 64 KiB on a download. */
  blockBytes: number;
  firstBlock: number;
  weak: Uint32Array;
  strong: Buffer;
}

/** PUT_COPY (PROTOCOL.md §5.15.3): `length` bytes at `offset` of the new file are the old file's at `oldOffset`. */
export interface PutCopyMessage {
  type: 'PUT_COPY';
  ref: number;
  offset: number;
  oldOffset: number;
  length: number;
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
  /** The destination already held this content and was not written (§5.6 `IDENTICAL`). */
  identical: boolean;
  /** PART (PROTOCOL.md §5.13): a joined stream's PUT_END is done; absent means false. */
  part?: boolean;
  fileDigest: Buffer;
}

/** PROGRESS (PROTOCOL.md §5.7): bytes of verified, durable chunks. */
export interface ProgressMessage {
  type: 'PROGRESS';
  ref: number;
  verifiedBytes: number;
}

/** PUT_DIR (PROTOCOL.md §5.10): create a directory if missing, set its mode and mtime. `path` per §7.1. */
export interface PutDirMessage {
  type: 'PUT_DIR';
  ref: number;
  mode: number;
  mtimeMs: number;
  path: string;
}

/**
 * PUT_LINK (PROTOCOL.md §5.10): a symbolic link at `path` to `target`. Only the wire rules are checked here
 * (non-empty, at most 4096 bytes, no NUL); whether `target` stays inside the root is the server's check.
 */
export interface PutLinkMessage {
  type: 'PUT_LINK';
  ref: number;
  overwrite: boolean;
  /** REPLACE_DIR (PROTOCOL.md §5.10): with `overwrite`, a directory at `path` goes too; absent means no. */
  replaceDir?: true;
  /** NOT_UTF8 (PROTOCOL.md §5.10): with `replaceDir`, as PUT_OFFER's `notUtf8`; absent means no. */
  notUtf8?: true;
  mtimeMs: number;
  target: string;
  path: string;
}

/**
 * REMOVE_REQUEST (PROTOCOL.md §5.16): remove the file, link or empty directory at `path` (§7.1), never
 * following a link; answered by ACK or an ERROR for the ref.
 */
export interface RemoveRequestMessage {
  type: 'REMOVE_REQUEST';
  ref: number;
  /**
   * NOT_UTF8 (PROTOCOL.md §5.16): a directory at `path` holding nothing but names that are not UTF-8 goes
   * with them; absent means it is refused as any directory that is not empty.
   */
  notUtf8?: true;
  path: string;
}

/**
 * SET_ATTRIBUTES (PROTOCOL.md §5.19): give the existing regular file at `path` (§7.1) the permission bits
 * `mode` (narrowed as a received file's, §5.3) and the mtime `mtimeMs`, without sending its data and never
 * following a link; answered by ACK or an ERROR for the ref.
 */
export interface SetAttributesMessage {
  type: 'SET_ATTRIBUTES';
  ref: number;
  mode: number;
  mtimeMs: number;
  path: string;
}

/** One small file of a PUT_BATCH (PROTOCOL.md §5.14): its whole content, and the file digest of §7.2. */
export interface BatchEntry {
  size: number;
  mtimeMs: number;
  mode: number;
  /** The file digest of `data` (§7.2) with the batch's `chunkBytes`: checked before anything is placed. */
  fileDigest: Buffer;
  /** `path` still needs parseRemotePath (§7.1). */
  path: string;
  /** The file's bytes, `size` of them (a copy: a batch outlives the record it came in). */
  data: Buffer;
}

/** PUT_BATCH (PROTOCOL.md §5.14): some entries of batch `ref`, as many as fit one record. */
export interface PutBatchMessage {
  type: 'PUT_BATCH';
  ref: number;
  overwrite: boolean;
  chunkBytes: number;
  entries: BatchEntry[];
}

/** BATCH_END (PROTOCOL.md §5.14): batch `ref` is complete with `totalEntries` entries. */
export interface BatchEndMessage {
  type: 'BATCH_END';
  ref: number;
  totalEntries: number;
}

/** The outcome of one entry of a batch (PROTOCOL.md §5.14): placed, identical (not written) or refused. */
export type BatchEntryResult =
  { status: 'placed' } | { status: 'identical' } | { status: 'refused'; code: number };

/** BATCH_DONE (PROTOCOL.md §5.14): one result per entry, in batch order; every placed file is durable. */
export interface BatchDoneMessage {
  type: 'BATCH_DONE';
  ref: number;
  results: BatchEntryResult[];
}

/**
 * GET_REQUEST (PROTOCOL.md §5.11.1): download `path` in chunks of `chunkBytes`. `heldSize`, `haveDigest` and
 * `ranges` describe the chunks the client already holds, as in PUT_ACCEPT; no ranges means none held.
 */
export interface GetRequestMessage {
  type: 'GET_REQUEST';
  ref: number;
  chunkBytes: number;
  /**
   * VERIFY_ONLY (PROTOCOL.md §5.11.1): the client has a file at the destination and asks for the server's size
   * and digest to compare locally; it then holds nothing (`heldSize` 0, no ranges) and says nothing back.
   */
  verifyOnly: boolean;
  heldSize: number;
  haveDigest: Buffer;
  ranges: ChunkRange[];
  path: string;
  /**
   * STRIPED (PROTOCOL.md §5.13.6): of the missing chunks, send only those whose index modulo `count` is
   * `index`, if the file has at least `minBytes`.
   */
  stripe?: GetStripe | undefined;
  /**
   * SIGNATURE (PROTOCOL.md §5.17.1): the client holds an old copy and asks for the file's signature and digest
   * instead of its chunks; it then holds nothing, with `chunkBytes` one leaf, and no stripe.
   */
  signature?: boolean | undefined;
  /**
   * PATCH (PROTOCOL.md §5.17.4): of the chunks not held (chunks of one leaf), only these byte pieces are sent;
   * the client fills the rest of each chunk from its old copy and checks the chunk hash over the whole.
   */
  patch?: BytePiece[] | undefined;
}

/** `length` bytes of a file from `offset` (a PATCH request's piece, PROTOCOL.md §5.17.4). */
export interface BytePiece {
  offset: number;
  length: number;
}

/** One stream's share of a download spread over several (PROTOCOL.md §5.13.6). */
export interface GetStripe {
  index: number;
  count: number;
  minBytes: number;
}

/** GET_OFFER (PROTOCOL.md §5.11.2): the file about to be sent; `heldAccepted` keeps the held chunks. */
export interface GetOfferMessage {
  type: 'GET_OFFER';
  ref: number;
  size: number;
  mtimeMs: number;
  mode: number;
  heldAccepted: boolean;
  /** The request's stripe applies: only its chunks follow (PROTOCOL.md §5.13.6). */
  striped?: boolean | undefined;
  /** The signature a SIGNATURE request asked for follows, then GET_END (PROTOCOL.md §5.17.2). */
  signature?: boolean | undefined;
  /** The request's PATCH pieces apply: of each chunk not held only they follow (PROTOCOL.md §5.17.4). */
  patched?: boolean | undefined;
}

/** GET_DATA (PROTOCOL.md §5.11.2): file bytes at `offset`; `data` is a view of the record, no copy. */
export interface GetDataMessage {
  type: 'GET_DATA';
  ref: number;
  offset: number;
  data: Buffer;
}

/** GET_CHUNK (PROTOCOL.md §5.11.2): the chunk just sent and its SHA-256. */
export interface GetChunkMessage {
  type: 'GET_CHUNK';
  ref: number;
  index: number;
  chunkHash: Buffer;
}

/** GET_END (PROTOCOL.md §5.11.2): the server's file digest (§7.2). */
export interface GetEndMessage {
  type: 'GET_END';
  ref: number;
  fileDigest: Buffer;
}

/**
 * LIST_REQUEST (PROTOCOL.md §5.12): list `path` (`''` for the root), its whole tree if `recursive`; with
 * `selfOnly`, no entries: LIST_END alone says whether `path` is a file or a directory.
 */
export interface ListRequestMessage {
  type: 'LIST_REQUEST';
  ref: number;
  recursive: boolean;
  selfOnly: boolean;
  /**
   * NAMES_ONLY (§5.12): kinds, paths, sizes and link targets are all the client needs; files' `mode` and
   * `mtimeMs` may then come as 0. Absent is false (a flag added after the message, so older literals hold).
   */
  namesOnly?: boolean;
  path: string;
}

/** The kind of a listed entry: 1 file, 2 directory, 3 symbolic link on the wire (PROTOCOL.md §5.12). */
export type ListEntryKind = 'file' | 'dir' | 'link';

/**
 * One entry of a listing (PROTOCOL.md §5.12). `path` is relative to the requested path and, coming from the
 * server, still needs parseRemotePath (§7.1) before use; `linkTarget` is `''` unless `kind` is `'link'`.
 */
export interface ListEntry {
  kind: ListEntryKind;
  mode: number;
  size: number;
  mtimeMs: number;
  path: string;
  linkTarget: string;
}

/** LIST_ENTRIES (PROTOCOL.md §5.12): one or more entries of a listing, as many as fit one record. */
export interface ListEntriesMessage {
  type: 'LIST_ENTRIES';
  ref: number;
  entries: ListEntry[];
}

/** LIST_END (PROTOCOL.md §5.12): the listing is complete; `totalEntries` counts every entry sent. */
export interface ListEndMessage {
  type: 'LIST_END';
  ref: number;
  totalEntries: number;
  /** The listed path is a file (its one entry is the file itself), not a directory. */
  isFile: boolean;
  /** Permission bits and mtime of the listed path itself, so a download can give its top directory both. */
  mode: number;
  mtimeMs: number;
}

/** Any decoded protocol message, told apart by `type`. */
export type Message =
  | ErrorMessage
  | WelcomeMessage
  | AckMessage
  | CancelMessage
  | PutOfferMessage
  | PutAcceptMessage
  | PutDataMessage
  | PutChunkMessage
  | PutEndMessage
  | PutDoneMessage
  | ProgressMessage
  | PutDirMessage
  | PutLinkMessage
  | PutBatchMessage
  | BatchEndMessage
  | BatchDoneMessage
  | DeltaBlocksMessage
  | PutCopyMessage
  | GetRequestMessage
  | GetOfferMessage
  | GetDataMessage
  | GetChunkMessage
  | GetEndMessage
  | ListRequestMessage
  | ListEntriesMessage
  | ListEndMessage
  | KeyCommitMessage
  | KeyRotateMessage
  | RemoveRequestMessage
  | SetAttributesMessage
  | KeepaliveMessage
  | GetBatchMessage
  | GetBatchDataMessage;

/** The message whose `type` is `T`. */
export type MessageOfType<T extends MessageType> = Extract<Message, { type: T }>;

/**
 * The type byte of each pairing message (PROTOCOL.md §12.4). They are ordinary messages in records, but they
 * are only ever read by a pairing exchange, never by a session: a session's `decodeMessage` keeps treating
 * 0x40-0x43 as unknown (MESSAGE_MALFORMED), exactly as before pairing's codecs moved here.
 */
export const PAIR_MESSAGE_TYPE_CODES = {
  PAIR_HELLO: 0x40,
  PAIR_REPLY: 0x41,
  PAIR_CONFIRM: 0x42,
  PAIR_DONE: 0x43,
} as const;

/** The name of a pairing message type, the `type` of a {@link PairMessage}. */
export type PairMessageType = keyof typeof PAIR_MESSAGE_TYPE_CODES;

/** PAIR_HELLO (PROTOCOL.md §12.4): the invite the code names (5 characters of §12.1) and CPace's `Ya`. */
export interface PairHelloMessage {
  type: 'PAIR_HELLO';
  inviteId: string;
  ya: Buffer;
}

/** PAIR_REPLY (PROTOCOL.md §12.4): CPace's `Yb`. */
export interface PairReplyMessage {
  type: 'PAIR_REPLY';
  yb: Buffer;
}

/** PAIR_CONFIRM (PROTOCOL.md §12.4): the client's key-confirmation tag `Tc` (§12.3). */
export interface PairConfirmMessage {
  type: 'PAIR_CONFIRM';
  tag: Buffer;
}

/** PAIR_DONE (PROTOCOL.md §12.4): the server's key-confirmation tag `Ts` (§12.3). */
export interface PairDoneMessage {
  type: 'PAIR_DONE';
  tag: Buffer;
}

/** A decoded pairing message (PROTOCOL.md §12.4). */
export type PairMessage = PairHelloMessage | PairReplyMessage | PairConfirmMessage | PairDoneMessage;

/** The pairing message whose `type` is `T`. */
export type PairMessageOfType<T extends PairMessageType> = Extract<PairMessage, { type: T }>;

/** GET_BATCH (PROTOCOL.md §5.20): many small files asked for at once, by the paths the client listed. */
export interface GetBatchMessage {
  type: 'GET_BATCH';
  ref: number;
  /** Each still needs parseRemotePath (§7.1) on the server. */
  paths: string[];
}

/**
 * One answer of a GET_BATCH_DATA (PROTOCOL.md §5.20), for the path at its place in the request: the file's
 * whole content with its mode, mtime and file digest (§7.2), or the wire code (§8) that refused it alone.
 */
export type GetBatchEntry =
  | { status: 'file'; mtimeMs: number; mode: number; fileDigest: Buffer; data: Buffer }
  | { status: 'refused'; code: number };

/** GET_BATCH_DATA (PROTOCOL.md §5.20): the next entries of batch `ref`, in request order, whole. */
export interface GetBatchDataMessage {
  type: 'GET_BATCH_DATA';
  ref: number;
  entries: GetBatchEntry[];
}
