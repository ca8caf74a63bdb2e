import { ERROR_CODES, type ErrorCategory, type ErrorCode, type ErrorSpec } from './error-codes.js';

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
  /**
   * What the error is about, as this side names it (`HOST:PORT/dir/file`, a local path). Part of `message`,
   * never of the wire's detail: a server's own paths stay off the wire (PROTOCOL.md §5.1).
   */
  readonly subject: string | undefined;
  /**
   * This side's next step (`ferry ls HOST/dir` lists what is there), after the rest of `message` and a `; `.
   * Never the peer's words: kept apart from `detail`, so a remote error's hint is printed after the mark
   * that the rest came from the server, and never read as the server's. The one rule for every error, local
   * or remote: `detail` says what happened, `hint` what to do next (the table's row gives a default, which
   * an explicit hint replaces), so each line reads `CODE: what: detail; next step` and a wrapper that adds
   * to one never mixes them.
   */
  readonly hint: string | undefined;
  /** `message` without the hint: the table's text, the subject and the detail (the peer's, when remote). */
  readonly statement: string;

  constructor(
    code: ErrorCode,
    detail?: string,
    /** `hint`: this side's next step; left out, the table's (if its row has one); `''`, none. */
    options?: { cause?: unknown; remote?: boolean; subject?: string | undefined; hint?: string | undefined },
  ) {
    const spec: ErrorSpec = ERROR_CODES[code];
    const subject = options?.subject;
    const given = options?.hint ?? spec.hint;
    const hint = given === '' ? undefined : given;
    const statement = [spec.message, subject, detail]
      .filter((part) => part !== undefined && part !== '')
      .join(': ');
    super(hint === undefined ? statement : `${statement}; ${hint}`, { cause: options?.cause });
    this.name = 'FerryError';
    this.code = code;
    this.category = spec.category;
    this.retryable = spec.retryable;
    this.wireCode = spec.wire;
    this.remote = options?.remote ?? false;
    this.detail = detail;
    this.subject = subject;
    this.hint = hint;
    this.statement = statement;
  }

  /**
   * The same error, naming what it is about (`HOST:PORT/dir/file`, a local path): the side that knows the
   * name adds it, since the wire never carries paths (PROTOCOL.md §5.1).
   */
  about(subject: string): FerryError {
    return new FerryError(this.code, this.detail, {
      cause: this.cause ?? this,
      remote: this.remote,
      subject,
      hint: this.hint ?? '', // none stays none: not the table's default again
    });
  }

  /** The same error with `hint` (this side's next step) after any hint it had. */
  withHint(hint: string): FerryError {
    return new FerryError(this.code, this.detail, {
      cause: this,
      remote: this.remote,
      subject: this.subject,
      hint: this.hint === undefined ? hint : `${this.hint}; ${hint}`,
    });
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
  const sys = err as { code?: unknown; name?: unknown; message?: unknown; path?: unknown } | null;
  const sysCode = typeof sys?.code === 'string' ? sys.code : undefined;
  if (sys?.name === 'AbortError' || sysCode === 'ABORT_ERR')
    return new FerryError('ABORTED', undefined, { cause: err });
  switch (sysCode) {
    case 'ENOSPC':
    case 'EDQUOT':
      // The path (when the system names one) is this side's; a quota is told apart from a full disk, since
      // `df` shows free space then and the user would look for the wrong cause.
      return new FerryError('DISK_FULL', sysCode === 'EDQUOT' ? 'disk quota exceeded (edquot)' : undefined, {
        cause: err,
        subject: pathOf(sys),
      });
    case 'ECONNREFUSED':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new FerryError('CONNECT_FAILED', `${NET_TEXT[sysCode]} (${sysCode.toLowerCase()})`, {
        cause: err,
        hint: NET_HINT[sysCode],
      });
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return new FerryError('CONNECTION_CLOSED', sysCode.toLowerCase(), { cause: err });
    case 'ETIMEDOUT':
      return new FerryError('TIMEOUT', undefined, { cause: err });
    case 'ENAMETOOLONG':
      // A legal remote path can still exceed the local system's limits once joined to a root.
      return new FerryError('PATH_INVALID', 'name too long for this file system', {
        cause: err,
        subject: pathOf(sys),
      });
    case 'ENOENT':
      return new FerryError('PATH_NOT_FOUND', undefined, { cause: err, subject: pathOf(sys) });
    case 'EIO':
    case 'EROFS':
    case 'EACCES':
    case 'EPERM':
    case 'EISDIR':
    case 'ENOTDIR':
    case 'EMFILE':
    case 'ENFILE':
    case 'EEXIST':
    case 'ELOOP':
      // The path goes into `subject` (this side's logs and terminal), the errno into the wire-safe detail.
      return new FerryError('IO_ERROR', `${ERRNO_TEXT[sysCode]} (${sysCode.toLowerCase()})`, {
        cause: err,
        subject: pathOf(sys),
      });
    default: {
      const msg = typeof sys?.message === 'string' ? sys.message : String(err);
      return new FerryError('INTERNAL', msg, { cause: err });
    }
  }
}

/** What the system errors that become CONNECT_FAILED mean. */
const NET_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed for now',
};

/** The next step after some of them: the likely cause to check (a new user's pass: a typo in the name). */
const NET_HINT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'is the server running, on this port?',
  ENOTFOUND: 'is the name spelt right?',
};

/** What the system errors that become IO_ERROR mean, in the words of strerror(3). */
const ERRNO_TEXT: Readonly<Record<string, string>> = {
  EIO: 'input/output error',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'not a directory',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EEXIST: 'file exists',
  ELOOP: 'too many levels of symbolic links',
};

/** The file a Node system error is about, if it says. */
function pathOf(sys: { path?: unknown } | null): string | undefined {
  return typeof sys?.path === 'string' ? sys.path : undefined;
}
