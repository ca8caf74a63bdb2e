import { FerryError } from '../errors/index.js';

/** Why `host:port` could not be bound, with what to do about it. */
export function listenError(err: unknown, host: string, port: number): FerryError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const why: Record<string, string> = {
    EADDRINUSE:
      'address already in use; is another server running there? choose another address with --listen',
    EACCES: 'permission denied; ports below 1024 need privileges, choose another with --listen',
    EADDRNOTAVAIL: 'not an address of this machine; choose another with --listen',
    // A name that does not resolve said only "failed (enotfound)".
    ENOTFOUND: 'unknown host; --listen takes an address or name of this machine (127.0.0.1:7443, [::]:7443)',
    EAI_AGAIN: 'the name could not be resolved now; try again, or give an address with --listen',
  };
  return new FerryError('LISTEN_FAILED', `${why[code] ?? 'failed'} (${code.toLowerCase()})`, {
    cause: err,
    subject: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
  });
}
