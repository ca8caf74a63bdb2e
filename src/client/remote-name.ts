import { FerryError, toFerryError } from '../errors/index.js';
import type { ServerAddress } from './client-session.js';

/** `HOST:PORT/path` as the user writes a remote path (IPv6 hosts in brackets); `HOST:PORT` for the root. */
export function remoteName(server: ServerAddress, path: string): string {
  const host = server.host.includes(':') ? `[${server.host}]` : server.host;
  return path === '' ? `${host}:${server.port}` : `${host}:${server.port}/${path}`;
}

/**
 * Names the remote path an operation's error was about. The server never sends paths (PROTOCOL.md §5.1),
 * so without this `PATH_NOT_FOUND` would not say which of several files was missing. Errors of the
 * session (network, protocol, admission) and local ones are left as they are.
 */
export function aboutRemotePath(err: unknown, server: ServerAddress, path: string): FerryError {
  const error = toFerryError(err);
  if (!error.remote || error.subject !== undefined) return error;
  const aboutOperation =
    error.category === 'path' ||
    error.category === 'transfer' ||
    error.category === 'storage' ||
    error.code === 'PERMISSION_DENIED';
  return aboutOperation ? error.about(remoteName(server, path)) : error;
}

/**
 * An upload's destination that is a directory on the server: the server refuses it as PATH_INVALID
 * (`destination is a directory`), which printed "path is not a valid relative path" of a valid path. Said
 * as a download says it of a local directory (`onThisMachine`): IO_ERROR, is a directory, which neither a
 * rerun nor `--overwrite` changes.
 */
export function directoryOnServer(err: unknown): unknown {
  const error = toFerryError(err);
  if (!error.remote || error.code !== 'PATH_INVALID' || error.detail !== 'destination is a directory')
    return err;
  return new FerryError('IO_ERROR', 'is a directory (eisdir), which ferry never replaces by a file', {
    remote: true,
    cause: error,
  });
}
