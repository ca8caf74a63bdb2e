import type { Command } from 'commander';
import { FerryError, toFerryError } from '../errors/index.js';
import type { GlobalOptions } from './cli-context.js';
import { shellWord } from './shell-word.js';

/**
 * KEY_NOT_FOUND says "run `ferry keygen` first", which makes an identity in the default home: a command
 * given `--home DIR` then failed the same way after it. Names the keygen for the home this command read,
 * and `serve`'s own `--init`. A refusal that already says which home to pass (`invite`, `allow`: a server's
 * home was likely meant) carries its home as its subject and is left as it is.
 */
export function withKeygenHint(err: unknown, command: Command | undefined): unknown {
  const error = toFerryError(err);
  if (error.code !== 'KEY_NOT_FOUND' || error.subject !== undefined || command === undefined) return err;
  const home = command.optsWithGlobals<GlobalOptions>().home;
  const keygen = home === undefined ? '`ferry keygen`' : `\`ferry --home ${shellWord(home)} keygen\``;
  if (home === undefined && command.name() !== 'serve') return err;
  // Replaces the table's hint (`run \`ferry keygen\` first`), which names the default home.
  return new FerryError('KEY_NOT_FOUND', error.detail, {
    cause: error,
    hint: `run ${keygen} first${command.name() === 'serve' ? ', or start the server with --init' : ''}`,
  });
}
