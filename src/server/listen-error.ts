import { FerryError } from '../errors/index.js';

/** What each system error of a bind means, and what to do about it (the error's hint). */
const LISTEN_FAILURES: Readonly<Record<string, { text: string; hint: string }>> = {
  EADDRINUSE: {
    text: 'address already in use',
    hint: 'is another server running there? choose another address with --listen',
  },
  EACCES: {
    text: 'permission denied',
    hint: 'ports below 1024 need privileges, choose another with --listen',
  },
  EADDRNOTAVAIL: { text: 'not an address of this machine', hint: 'choose another with --listen' },
  // A name that does not resolve said only "failed (enotfound)".
  ENOTFOUND: {
    text: 'unknown host',
    hint: '--listen takes an address or name of this machine (127.0.0.1:7443, [::]:7443)',
  },
  EAI_AGAIN: {
    text: 'the name could not be resolved now',
    hint: 'try again, or give an address with --listen',
  },
};

/** Why `host:port` could not be bound, with what to do about it. */
export function listenError(err: unknown, host: string, port: number): FerryError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const failure = LISTEN_FAILURES[code];
  return new FerryError('LISTEN_FAILED', `${failure?.text ?? 'failed'} (${code.toLowerCase()})`, {
    cause: err,
    subject: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    hint: failure?.hint,
  });
}
