import { ERROR_CODES, type ErrorCategory, type ErrorCode } from './error-codes.js';

/**
 * The one error base class. `code` is stable and is what callers match on; `message` is a lower-case
 * one-liner that may carry values (`expected offset 1048576, got 0`) but never a key, a secret, or the
 * other side's paths.
 */
export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  readonly retryable: boolean;
  /** The 16-bit code sent in an ERROR message, or null for local-only errors. */
  readonly wireCode: number | null;
  /** True when this error was received from the peer in an ERROR message rather than raised here. */
  readonly remote: boolean;
  /** The specific part of the message (values, which component), without the table's text. */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; remote?: boolean }) {
    const spec = ERROR_CODES[code];
    super(detail === undefined ? spec.message : `${spec.message}: ${detail}`, { cause: options?.cause });
    this.name = 'FerryError';
    this.code = code;
    this.category = spec.category;
    this.retryable = spec.retryable;
    this.wireCode = spec.wire;
    this.remote = options?.remote ?? false;
    this.detail = detail;
  }
}

/** True when `err` is a FerryError, optionally of the given code. */
export function isFerryError(err: unknown, code?: ErrorCode): err is FerryError {
  return err instanceof FerryError && (code === undefined || err.code === code);
}

/**
 * Turns anything thrown into a FerryError: Node system errors get their storage/network code, an
 * AbortError becomes ABORTED, and anything else is INTERNAL (its message is kept locally, never sent).
 */
export function toFerryError(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  const sys = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  const sysCode = typeof sys?.code === 'string' ? sys.code : undefined;
  if (sys?.name === 'AbortError' || sysCode === 'ABORT_ERR')
    return new FerryError('ABORTED', undefined, { cause: err });
  switch (sysCode) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new FerryError('DISK_FULL', undefined, { cause: err });
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new FerryError('CONNECT_FAILED', sysCode.toLowerCase(), { cause: err });
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return new FerryError('CONNECTION_CLOSED', sysCode.toLowerCase(), { cause: err });
    case 'ETIMEDOUT':
      return new FerryError('TIMEOUT', undefined, { cause: err });
    case 'ENAMETOOLONG':
      // A legal remote path can still exceed the local system's limits once joined to a root.
      return new FerryError('PATH_INVALID', 'name too long for this file system', { cause: err });
    case 'EIO':
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
    case 'EISDIR':
    case 'ENOTDIR':
    case 'EMFILE':
    case 'ENFILE':
    case 'ENOENT':
    case 'EEXIST':
    case 'ELOOP':
      return new FerryError('IO_ERROR', sysCode.toLowerCase(), { cause: err });
    default: {
      const msg = typeof sys?.message === 'string' ? sys.message : String(err);
      return new FerryError('INTERNAL', msg, { cause: err });
    }
  }
}
