import { FerryError, toFerryError } from '../errors/index.js';
import type { ServerAddress } from './server-address.js';

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
 * {@link aboutRemotePath} for an upload, with the server's refusals of where an entry goes said as a download
 * says them of this machine (`onThisMachine`), which neither a rerun nor `--overwrite` changes. The server
 * put them as PATH_INVALID (`destination is a directory`: "not a valid relative path" of a valid path;
 * `component N is not a directory`: a number, as the wire carries no path) and FILE_EXISTS (`a file is in
 * the way of the directory`, whose `--overwrite` advice does not help).
 */
export function aboutUploadPath(err: unknown, server: ServerAddress, path: string): FerryError {
  const error = toFerryError(err);
  const at = (prefix: string): { cause: FerryError; remote: true; subject: string } => ({
    cause: error,
    remote: true,
    subject: remoteName(server, prefix),
  });
  if (!error.remote || error.subject !== undefined) return aboutRemotePath(error, server, path);
  if (error.code === 'PATH_INVALID' && error.detail === 'destination is a directory')
    return new FerryError('IO_ERROR', 'is a directory (eisdir)', {
      ...at(path),
      hint: 'ferry never replaces a directory by a file',
    });
  const component = /^component (\d+) is not a directory$/.exec(error.detail ?? '');
  if (error.code === 'PATH_INVALID' && component)
    return new FerryError(
      'IO_ERROR',
      'not a directory (enotdir)',
      at(path.split('/').slice(0, Number(component[1])).join('/')),
    );
  if (error.code === 'FILE_EXISTS' && error.detail === 'a file is in the way of the directory')
    return new FerryError('IO_ERROR', 'not a directory (enotdir): a file is in the way', {
      ...at(path),
      hint: 'send never replaces a file by a directory',
    });
  return aboutRemotePath(error, server, path);
}
