import { FerryError } from '../errors/index.js';

/**
 * `err`, with a hint when it is an unknown host typed as a bare name (`text`, the command's
 * HOST[:PORT][/PATH] argument, has no port and no path): `ferry send a.txt b.txt` as scp copies locally, or
 * `ferry sync tree backup` as rsync mirrors locally, dialled `b.txt` and `backup` and said only "could not
 * connect: backup:7443: unknown host", leaving the user to find that ferry never copies on one machine.
 */
export function withLocalNameHint(err: unknown, text: string): unknown {
  if (
    !(err instanceof FerryError) ||
    err.code !== 'CONNECT_FAILED' ||
    err.detail?.endsWith('(enotfound)') !== true ||
    /[/:[]/.test(text)
  )
    return err;
  // In place of the unknown host's own hint (`is the name spelt right?`), the two readings as one question:
  // appended, the two read 'is the name spelt right?; if "copy" is meant as a path...'.
  return new FerryError(err.code, err.detail, {
    cause: err,
    remote: err.remote,
    subject: err.subject,
    hint: `is the name spelt right, or is ${JSON.stringify(text)} meant as a path on this machine? ferry copies only to and from a server (a local copy is cp)`,
  });
}
