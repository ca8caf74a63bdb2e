import { FerryError } from '../errors/index.js';
import { shellWord } from './shell-word.js';

/**
 * `err`, with the way on when what was asked for is not on the server: `ferry get host/notse.txt` was told
 * only "no such file or directory: host:7443/notse.txt (from the server)", and the name that is there is
 * what the listing of its directory shows. The missing path (`HOST:PORT/PATH`, built on this side from the
 * command's argument) is the error's subject; the hint is ferry's words, never the server's, so it is the
 * error's `hint`, printed after "(from the server)".
 */
export function withRemoteMissingHint(err: unknown): unknown {
  if (!(err instanceof FerryError) || err.code !== 'PATH_NOT_FOUND' || !err.remote) return err;
  const missing = err.subject;
  const slash = missing?.indexOf('/') ?? -1;
  if (missing === undefined || slash < 0) return err;
  const last = missing.lastIndexOf('/');
  const directory = missing.slice(0, last === slash ? slash : last);
  return err.withHint(`\`ferry ls ${shellWord(directory)}\` lists what is there`);
}
