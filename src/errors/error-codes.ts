/**
 * The one table of every error ferry can raise. Each row fixes, once and for all:
 *  - `category`: what kind of failure it is; the CLI exit code is derived from it (see exit-codes.ts);
 *  - `wire`: the 16-bit code carried by an ERROR message (docs/PROTOCOL.md §8), or `null` when the
 *    error is local and never sent;
 *  - `retryable`: whether a new session may succeed where this one failed (the client retries only these);
 *  - `message`: the default one-line, lower-case description: what happened, never what to do about it;
 *  - `hint` (some rows): the next step on this side, FerryError's default `hint` (printed after the message
 *    and any "(from the server)" mark, so it never reads as the other side's words).
 *
 * Codes are stable strings: callers match on `err.code`, never on the message.
 */
export type ErrorCategory =
  | 'usage'
  | 'config'
  | 'trust'
  | 'network'
  | 'protocol'
  | 'path'
  | 'transfer'
  | 'storage'
  | 'aborted'
  | 'internal';

export interface ErrorSpec {
  readonly category: ErrorCategory;
  readonly wire: number | null;
  readonly retryable: boolean;
  readonly message: string;
  readonly hint?: string;
}

export const ERROR_CODES = {
  // usage: the caller asked for something that cannot work as asked
  USAGE_INVALID: { category: 'usage', wire: null, retryable: false, message: 'invalid usage' },
  PAIRING_CODE_INVALID: {
    category: 'usage',
    wire: null,
    retryable: false,
    message: 'not a valid pairing code',
  },

  // config: the local home directory, key files and lists
  KEY_NOT_FOUND: {
    category: 'config',
    wire: null,
    retryable: false,
    message: 'no identity in this home',
    hint: 'run `ferry keygen` first',
  },
  KEY_EXISTS: { category: 'config', wire: null, retryable: false, message: 'an identity already exists' },
  HOME_NOT_FOUND: { category: 'config', wire: null, retryable: false, message: 'no such home directory' },
  KEY_FILE_INSECURE: {
    category: 'config',
    wire: null,
    retryable: false,
    message: 'private key file is readable by group or others',
  },
  KEY_FILE_INVALID: { category: 'config', wire: null, retryable: false, message: 'key file is malformed' },
  ID_INVALID: { category: 'config', wire: null, retryable: false, message: 'not a valid ferry id' },
  CONFIG_INVALID: {
    category: 'config',
    wire: null,
    retryable: false,
    message: 'configuration file is malformed',
  },
  ROOT_CONTAINS_HOME: {
    category: 'config',
    wire: null,
    retryable: false,
    message: 'the server root and the ferry home overlap',
  },

  // trust: who may talk to whom
  SERVER_KEY_UNKNOWN: {
    category: 'trust',
    wire: null,
    retryable: false,
    message: 'server key is not pinned for this address',
  },
  SERVER_KEY_CHANGED: {
    category: 'trust',
    wire: null,
    retryable: false,
    message: 'server key does not match the pinned key',
  },
  CLIENT_NOT_ALLOWED: {
    category: 'trust',
    wire: 0x0101,
    retryable: false,
    message: 'client key is not on the server allow-list',
  },
  PERMISSION_DENIED: {
    category: 'trust',
    wire: 0x0102,
    retryable: false,
    message: 'operation not permitted',
  },
  // Pairing (PROTOCOL.md §12). Only PAIRING_FAILED goes on the wire: the server answers an unknown, expired or
  // wrong code with the same error at the same step (§12.5), so INVITE_* stay local (logs, `ferry invite`).
  PAIRING_FAILED: {
    category: 'trust',
    wire: 0x0701,
    retryable: false,
    message: 'pairing failed: the code is wrong, expired or already used',
  },
  INVITE_INVALID: { category: 'trust', wire: null, retryable: false, message: 'no such invite' },
  INVITE_EXPIRED: { category: 'trust', wire: null, retryable: false, message: 'invite has expired' },

  // network: the connection itself
  CONNECT_FAILED: { category: 'network', wire: null, retryable: true, message: 'could not connect' },
  // The server side's counterpart: its own address cannot be bound (in use, not ours, privileged port).
  LISTEN_FAILED: { category: 'network', wire: null, retryable: false, message: 'cannot listen' },
  CONNECTION_CLOSED: {
    category: 'network',
    wire: null,
    retryable: true,
    message: 'connection closed by peer',
  },
  TIMEOUT: { category: 'network', wire: 0x0201, retryable: true, message: 'timed out' },
  STALLED: {
    category: 'network',
    wire: null,
    retryable: true,
    message: 'no progress within the stall timeout',
  },
  // A live server that sends only KEEPALIVE past what its work may take (src/client/progress-watchdog.ts).
  NO_PROGRESS: {
    category: 'network',
    wire: null,
    retryable: false,
    message: 'the server kept the session alive without making progress',
  },
  SERVER_BUSY: { category: 'network', wire: 0x0202, retryable: true, message: 'server is at its limit' },

  // protocol: bytes that do not follow docs/PROTOCOL.md
  VERSION_UNSUPPORTED: {
    category: 'protocol',
    wire: 0x0301,
    retryable: false,
    message: 'protocol version not supported',
  },
  RECORD_TOO_LARGE: {
    category: 'protocol',
    wire: 0x0302,
    retryable: false,
    message: 'record exceeds size cap',
  },
  MESSAGE_MALFORMED: { category: 'protocol', wire: 0x0303, retryable: false, message: 'malformed message' },
  MESSAGE_UNEXPECTED: {
    category: 'protocol',
    wire: 0x0304,
    retryable: false,
    message: 'message not allowed in this state',
  },
  HANDSHAKE_FAILED: { category: 'protocol', wire: null, retryable: false, message: 'handshake failed' },
  DECRYPT_FAILED: {
    category: 'protocol',
    wire: null,
    retryable: true,
    message: 'record failed authentication',
  },
  INVALID_PUBLIC_KEY: {
    category: 'protocol',
    wire: null,
    retryable: false,
    message: 'peer public key is invalid or of low order',
  },
  NONCE_EXHAUSTED: {
    category: 'protocol',
    wire: null,
    retryable: true,
    message: 'cipher nonce space exhausted',
  },

  // path: names that cannot be mapped safely under a root
  PATH_INVALID: {
    category: 'path',
    wire: 0x0401,
    retryable: false,
    message: 'path is not a valid relative path',
  },
  PATH_ESCAPES_ROOT: { category: 'path', wire: 0x0402, retryable: false, message: 'path escapes the root' },
  PATH_NOT_FOUND: {
    category: 'path',
    wire: 0x0403,
    retryable: false,
    message: 'no such file or directory',
  },

  // transfer: the content did not arrive as promised
  DIGEST_MISMATCH: {
    category: 'transfer',
    wire: 0x0501,
    retryable: true,
    message: 'file digest does not match the source',
  },
  CHUNK_MISMATCH: {
    category: 'transfer',
    wire: 0x0502,
    retryable: true,
    message: 'chunk hash does not match the data',
  },
  FILE_EXISTS: {
    category: 'transfer',
    wire: 0x0503,
    retryable: false,
    message: 'destination exists',
    hint: 'use --overwrite to replace it',
  },
  TRANSFER_TAKEN_OVER: {
    category: 'transfer',
    wire: 0x0504,
    retryable: false,
    message: 'a newer session of the same client took this transfer over',
  },
  FILE_TOO_LARGE: {
    category: 'transfer',
    wire: 0x0505,
    retryable: false,
    message: 'file exceeds the size limit',
  },
  QUOTA_EXCEEDED: {
    category: 'transfer',
    wire: 0x0506,
    retryable: false,
    message: 'the client quota of this server is used up',
  },
  SOURCE_CHANGED: {
    category: 'transfer',
    wire: 0x0507,
    retryable: false,
    message: 'source file changed while it was being sent',
  },

  // storage: the local disk
  DISK_FULL: { category: 'storage', wire: 0x0601, retryable: false, message: 'no space left on the device' },
  IO_ERROR: { category: 'storage', wire: 0x0602, retryable: false, message: 'file system error' },

  ABORTED: { category: 'aborted', wire: null, retryable: false, message: 'aborted' },
  INTERNAL: { category: 'internal', wire: 0xffff, retryable: false, message: 'internal error' },

  // Appended (table order is not meaning). FILE_EXISTS' text names `--overwrite`, which `sync` does not have:
  // a sync replaces changed files anyway, and what it cannot place without `--delete` is a directory.
  SYNC_CONFLICT: {
    category: 'transfer',
    wire: null,
    retryable: false,
    message: 'a directory is in the way of an entry of the source',
  },
  // Appended. A download's resume state (`.NAME.ferry-state`) cannot be written because a file ferry did not
  // make has its name: FILE_EXISTS' `--overwrite` does not help (ferry never removes what it did not make).
  STATE_FILE_IN_THE_WAY: {
    category: 'transfer',
    wire: null,
    retryable: false,
    message: 'a file ferry did not make has the name of the download state',
  },
  // Appended. The server's `.ferry` or `.ferry/partial` under its root is a link, not a directory, another
  // user's or writable by others: the server refuses to start rather than keep its partials there.
  SERVER_STATE_UNSAFE: {
    category: 'config',
    wire: null,
    retryable: false,
    message: "the server's state directory under its root is not its own",
  },
  // Appended. A file of the home (identity key, allow-list, known servers, invites, rotation state) or the
  // home directory holding it is another user's, or the directory is writable by others (OpenSSH's
  // secure_path): its owner could change whom ferry trusts, whatever the file's mode now.
  HOME_UNSAFE: {
    category: 'config',
    wire: null,
    retryable: false,
    message: 'a file or directory of the home is not your own',
  },
  // Appended. The server's root, or a directory above it, is another user's or writable by others (but for
  // sticky ones and the server user's own primary group): whoever may write there could swap the root for a
  // link to another directory of the server user's (`~/.ssh`), which the server would then serve.
  ROOT_UNSAFE: {
    category: 'config',
    wire: null,
    retryable: false,
    message: "the server root or a directory above it is not the server user's own",
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

const BY_WIRE = new Map<number, ErrorCode>();
for (const [code, spec] of Object.entries(ERROR_CODES) as [ErrorCode, ErrorSpec][]) {
  if (spec.wire !== null) {
    if (BY_WIRE.has(spec.wire)) throw new Error(`duplicate wire code ${spec.wire}`);
    BY_WIRE.set(spec.wire, code);
  }
}

/** Maps a wire code from an ERROR message back to its code; unknown wire codes read as INTERNAL. */
export function codeFromWire(wire: number): ErrorCode {
  return BY_WIRE.get(wire) ?? 'INTERNAL';
}
