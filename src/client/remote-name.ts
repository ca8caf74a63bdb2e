import { toFerryError, type FerryError } from '../errors/index.js';
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
