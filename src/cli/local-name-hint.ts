import { FerryError } from '../errors/index.js';

/**
 * Runs `work`, which dials the server named by `text` (a command's HOST[:PORT][/PATH] argument), and adds a
 * hint to an unknown host that was typed as a bare name: `ferry send a.txt b.txt` as scp copies locally, or
 * `ferry sync tree backup` as rsync mirrors locally, dialled `b.txt` and `backup` and said only "could not
 * connect: backup:7443: unknown host", leaving the user to find that ferry never copies on one machine.
 */
export async function withLocalNameHint<T>(text: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (
      !(err instanceof FerryError) ||
      err.code !== 'CONNECT_FAILED' ||
      err.detail?.endsWith('(enotfound)') !== true ||
      /[/:[]/.test(text)
    )
      throw err;
    throw new FerryError(
      'CONNECT_FAILED',
      `${err.detail}; if ${JSON.stringify(text)} is meant as a path on this machine: ferry copies only to and from a server (a local copy is cp)`,
      { cause: err, subject: err.subject },
    );
  }
}
